/**
 * Worker-thread entry of the projector role: the same projector as `openclaw-service projector`,
 * on connections of its own, reporting each applied position to the thread that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { projectorOn } from './projector.ts';
import { loadMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';
import type { FromProjectorThread, ToProjectorThread } from './projector-host.ts';

const port = parentPort!;
const post = (message: FromProjectorThread) => port.postMessage(message);
const { env } = workerData as { env: Record<string, string> };

const config = loadConfig(env);
const log = createLogger(config.LOG_LEVEL).child({ role: 'projector', thread: true });
let storage: Awaited<ReturnType<typeof openStorage>> | undefined;
try {
  storage = await openStorage(config, 'projector-thread', { master: await loadMasterKeys(config, 'optional') });
  await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
  const opened = storage;
  const projector = projectorOn(opened, log, {
    schema: config.READ_MODEL_SCHEMA,
    lingerMs: config.PROJECTOR_LINGER_MS,
    // the worker's metrics registry is served by nobody: batches and failures are counted by the thread that started it
    onApplied: (position, events) => post({ type: 'applied', position: position.toString(), events, schema: config.READ_MODEL_SCHEMA }),
    onFailure: (kind) => post({ type: 'failure', kind, schema: config.READ_MODEL_SCHEMA }),
  });
  port.on('message', (message: ToProjectorThread) => {
    if (message.type !== 'stop') return;
    void (async () => {
      await projector.stop();
      await opened.close();
      post({ type: 'stopped' });
      port.close();
    })();
  });
  projector.start();
  post({ type: 'ready' });
} catch (error) {
  await storage?.close().catch(() => undefined);
  post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  port.close();
}
