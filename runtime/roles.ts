import { createProjector, migrateReadModels } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Config } from './config.ts';
import { stopOnSignals } from './dev.ts';
import type { Logger } from './logger.ts';
import { openStorage } from './stores.ts';

/** The `projector` role on its own: reads the log, writes the read models, nothing else. */
export const runProjector = async (config: Config, log: Logger) => {
  const storage = await openStorage(config);
  await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
  const projector = createProjector({
    db: storage.db,
    store: storage.store,
    schema: config.READ_MODEL_SCHEMA,
    projections: PROJECTIONS,
    lingerMs: config.PROJECTOR_LINGER_MS,
    onError: (error) => log.error({ err: error }, 'projector batch failed; retrying from the checkpoint'),
  });
  projector.start();
  log.info({ schema: config.READ_MODEL_SCHEMA }, 'projector running');
  process.stdout.write('projector running\n');
  stopOnSignals(async () => {
    await projector.stop();
    await storage.close();
  }, log);
};
