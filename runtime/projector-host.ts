import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createWakeup } from '../adapters/event-store/sql/wakeup.ts';
import type { Wakeup } from '../adapters/event-store/sql/wakeup.ts';
import { countProjectorFailure, observeProjectorBatch } from '../adapters/telemetry/metrics.ts';

export type ToProjectorThread = { readonly type: 'stop' };
export type FromProjectorThread =
  | { readonly type: 'ready' }
  | { readonly type: 'applied'; readonly position: string; readonly events: number; readonly schema: string }
  /** A failed batch or a halt, counted in this thread's metrics (the worker's own registry is served by nobody). */
  | { readonly type: 'failure'; readonly kind: 'error' | 'halt'; readonly schema: string }
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

export interface ProjectorThreadOptions {
  /** Told when the thread failed after it had started; it is started again after a pause. */
  readonly onFailure?: (error: Error) => void;
  /** First pause before a restart (doubling up to 30 s while it keeps failing at once). */
  readonly restartDelayMs?: number;
  /** The thread's module (tests put a failing one in front of the real one). */
  readonly entry?: string;
}

/**
 * The projector role in a worker thread of this process (PostgreSQL stores only: PGlite has one
 * connection, owned by the main thread). The API's event loop then carries none of the
 * projection work, and its read side still hears of every batch at once, by message. A thread that
 * fails after it started is reported and started again (its checkpoints say where to resume); one
 * that cannot start fails this call.
 */
export const startProjectorThread = async (env: Record<string, string | undefined>, options: ProjectorThreadOptions = {}): Promise<ProjectorHandle> => {
  const applied = createWakeup();
  const workerEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  let position: bigint | undefined;
  let stopping = false;
  let current: { worker: Worker; exited: Promise<number> } | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let delay = options.restartDelayMs ?? 1_000;

  /** Starts a thread; resolves once it is projecting, rejects (and ends the thread) if it cannot start. */
  const spawn = async (): Promise<void> => {
    const worker = new Worker(BOOT, { workerData: { entry: options.entry ?? ENTRY, env: workerEnv } });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    let ready = false;
    let failure: Error | undefined;
    current = { worker, exited };
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromProjectorThread) => {
        if (message.type === 'ready') {
          ready = true;
          resolve();
        } else if (message.type === 'failed') {
          failure = new Error(`projector thread: ${message.message}`);
          reject(failure);
        } else if (message.type === 'applied') {
          position = BigInt(message.position);
          observeProjectorBatch(message.schema, message.events);
          applied.notify();
        } else if (message.type === 'failure') {
          countProjectorFailure(message.schema, message.kind);
        }
      });
      worker.on('error', (error) => {
        failure = error;
        if (!ready) reject(error);
      });
      void exited.then((code) => {
        if (!ready) reject(failure ?? new Error(`projector thread exited with ${code} before it was ready`));
        else if (!stopping) restart(failure ?? new Error(`projector thread exited with ${code}`));
      });
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
  };

  const restart = (error: Error) => {
    options.onFailure?.(error);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopping) return;
      spawn().then(
        () => (delay = options.restartDelayMs ?? 1_000),
        (again: unknown) => {
          delay = Math.min(delay * 2, 30_000);
          restart(again instanceof Error ? again : new Error(String(again)));
        },
      );
    }, delay);
  };

  await spawn();
  let stopped: Promise<void> | undefined;
  return {
    applied,
    get position() {
      return position;
    },
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        if (restartTimer) clearTimeout(restartTimer);
        const running = current;
        if (!running) return;
        running.worker.postMessage({ type: 'stop' } satisfies ToProjectorThread);
        const timer = setTimeout(() => void running.worker.terminate(), 10_000);
        await running.exited;
        clearTimeout(timer);
      })()),
  };
};
