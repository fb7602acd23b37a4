/**
 * Worker-thread entry of `audit verify`'s hashing (runtime/audit-hash-threads.ts): the content hash of
 * each event of a page, hex, from its stored text.
 */
import { parentPort } from 'node:worker_threads';
import { storedContentHash } from '../adapters/event-store/chain.ts';
import type { FromHashThread, ToHashThread } from './audit-hash-threads.ts';

const port = parentPort!;
port.on('message', ({ id, fields }: ToHashThread) => {
  try {
    const hashes = new Array<string>(fields.length / 5);
    for (let i = 0, f = 0; i < hashes.length; i++, f += 5)
      hashes[i] = storedContentHash({ id: fields[f]!, streamId: fields[f + 1]!, type: fields[f + 2]!, data: fields[f + 3]!, metadata: fields[f + 4]! }, 'hex');
    port.postMessage({ id, hashes } satisfies FromHashThread);
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message } satisfies FromHashThread);
  }
});
port.postMessage({ id: -1 } satisfies FromHashThread);
