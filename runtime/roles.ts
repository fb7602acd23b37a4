import { migrateReadModels } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Config } from './config.ts';
import { stopOnSignals } from './signals.ts';
import type { Logger } from './logger.ts';
import { projectorOn } from './projector.ts';
import { loadMasterKeys } from './encryption.ts';
import { openStorage } from './stores.ts';

/** The `projector` role on its own: reads the log, writes the read models, nothing else. */
export const runProjector = async (config: Config, log: Logger) => {
  const storage = await openStorage(config, 'projector', await loadMasterKeys(config, 'optional'));
  await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
  const projector = projectorOn(storage, log, { schema: config.READ_MODEL_SCHEMA, lingerMs: config.PROJECTOR_LINGER_MS });
  projector.start();
  log.info({ schema: config.READ_MODEL_SCHEMA }, 'projector running');
  process.stdout.write('projector running\n');
  stopOnSignals(async () => {
    await projector.stop();
    await storage.close();
  }, log);
};

/**
 * The `api` role: serves the HTTP API until SIGINT/SIGTERM, then stops cleanly. One line on
 * stdout says where, once it is ready (with PORT=0 that line is the only place the port shows).
 */
export const runApi = async (config: Config, log: Logger) => {
  const { startApiRole } = await import('./api-role.ts');
  const api = await startApiRole(config, log);
  stopOnSignals(api.stop, log);
  process.stdout.write(
    `openclaw-service api ready on ${api.url} (api ${api.url}/api/v1, health ${api.url}/healthz; projector: ${config.PROJECTOR_MODE}; ${api.storage.describe})\n`,
  );
};
