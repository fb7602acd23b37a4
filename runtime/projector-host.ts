import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createWakeup } from '../adapters/event-store/sql/wakeup.ts';
import type { Wakeup } from '../adapters/event-store/sql/wakeup.ts';

export type ToProjectorThread = { readonly type: 'stop' };
export type FromProjectorThread =
  | { readonly type: 'ready' }
  | { readonly type: 'applied'; readonly position: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly message: string };

/** What the platform needs of a projector, wherever it runs. */
export interface ProjectorHandle {
  /** Signals after every applied batch, for read-your-writes waiters in this process. */
  readonly applied: Wakeup;
  readonly position: bigint | undefined;
  stop(): Promise<void>;
}

const BOOT = pathToFileURL(path.join(import.meta.dirname, 'thread-boot.mjs'));
const ENTRY = pathToFileURL(path.join(import.meta.dirname, 'projector-thread.ts')).href;

/**
 * The projector role in a worker thread of this process (PostgreSQL stores only: PGlite has one
 * connection, owned by the main thread). The API's event loop then carries none of the
 * projection work, and its read side still hears of every batch at once, by message.
 */
export const startProjectorThread = async (env: Record<string, string | undefined>): Promise<ProjectorHandle> => {
  const applied = createWakeup();
  let position: bigint | undefined;
  const worker = new Worker(BOOT, { workerData: { entry: ENTRY, env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) } });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromProjectorThread) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'failed') reject(new Error(`projector thread: ${message.message}`));
      else if (message.type === 'applied') {
        position = BigInt(message.position);
        applied.notify();
      }
    });
    worker.once('error', reject);
    void exited.then((code) => reject(new Error(`projector thread exited with ${code} before it was ready`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    applied,
    get position() {
      return position;
    },
    stop: () =>
      (stopping ??= (async () => {
        worker.postMessage({ type: 'stop' } satisfies ToProjectorThread);
        const timer = setTimeout(() => void worker.terminate(), 10_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
};
