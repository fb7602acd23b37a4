import { migrateReadModels } from '../adapters/projections/projector.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError } from './config.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { loadMasterKeys } from './encryption.ts';
import { connectOrgo } from './orgo.ts';
import { checkSagaConfig, startSaga } from './saga.ts';
import { stopOnSignals } from './signals.ts';
import { openStorage } from './stores.ts';

/**
 * The `saga` role: provisions agent VMs and knights on Orgo (one or more processes; give each on
 * one host its own SAGA_INSTANCE_ID). It needs a database other roles share and a real Orgo key.
 */
export const runSaga = async (config: Config, log: Logger) => {
  if (config.eventStore === 'pglite')
    throw new ConfigError('the saga role needs a database other processes share: set DATABASE_URL. The embedded default (`dev`) runs the saga itself.');
  checkSagaConfig(process.env);
  // the saga reads knights' tasks (personal data) to run them: it needs the master key
  const storage = await openStorage(config, 'saga', await loadMasterKeys(config, 'required'));
  try {
    await migrateReadModels(storage.db, config.READ_MODEL_SCHEMA, PROJECTIONS);
    const orgo = await connectOrgo(process.env, log, { simulate: false });
    if (!orgo) throw new ConfigError('the saga role needs ORGO_API_KEY (the simulated Orgo is only for the embedded default)');
    const saga = await startSaga({
      storage,
      shell: createCommandShell({ store: storage.store, codec: storage.codec }),
      vms: orgo.vms,
      eventSchema: config.EVENT_STORE_SCHEMA,
      readModelSchema: config.READ_MODEL_SCHEMA,
      env: process.env,
      log,
    });
    process.stdout.write(`saga running (${orgo.describe})\n`);
    stopOnSignals(async () => {
      await saga.stop();
      await orgo.close();
      await storage.close();
    }, log);
  } catch (error) {
    await storage.close();
    throw error;
  }
};
