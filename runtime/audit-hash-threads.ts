import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ContentHasher } from '../adapters/audit/check.ts';
import type { StoredEvent } from '../domain/ports/event-store.ts';

/** id, streamId, type, data and metadata of each event of a page, one after another. */
export type ToHashThread = { readonly id: number; readonly fields: string[] };
export type FromHashThread = { readonly id: number; readonly hashes?: string[]; readonly error?: string };

const BOOT = pathToFileURL(path.join(import.meta.dirname, 'thread-boot.mjs'));
const ENTRY = pathToFileURL(path.join(import.meta.dirname, 'audit-hash-thread.ts')).href;

/**
 * A thread that computes content hashes for `audit verify` (canonical JSON and a sha256 per event,
 * most of its CPU) while the main thread reads the next page and links the chains of the last one.
 * One thread: PostgreSQL needs a core too (192,520 events on 2 cores: 91–95k events/s against 78–82k
 * all on the main thread).
 */
export const startHashThread = async (): Promise<ContentHasher & { close(): Promise<void> }> => {
  const pending = new Map<number, { resolve: (hashes: string[]) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const worker = new Worker(BOOT, { workerData: { entry: ENTRY } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => {
      worker.off('error', reject);
      resolve();
    });
  });
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('message', (message: FromHashThread) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.hashes) waiter.resolve(message.hashes);
    else waiter.reject(new Error(`hash thread: ${message.error ?? 'no hashes'}`));
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`hash thread exited with ${code}`)));
  return {
    contentHashes(page: readonly StoredEvent[]): Promise<string[]> {
      const fields = new Array<string>(page.length * 5);
      let f = 0;
      for (const e of page) {
        fields[f++] = e.id;
        fields[f++] = e.streamId;
        fields[f++] = e.type;
        fields[f++] = e.data;
        fields[f++] = e.metadata;
      }
      const id = nextId++;
      return new Promise<string[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, fields } satisfies ToHashThread);
      });
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
};
