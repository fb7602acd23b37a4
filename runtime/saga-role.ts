import { migrateReadModels } from '../adapters/projections/projector.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError } from './config.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import { startSaga } from './saga.ts';

/**
 * The `saga` role: provisions agent VMs and knights on Orgo, on the storage of the process that
 * runs it (alone, or beside other roles). It needs a real Orgo key: the simulated Orgo is only for
 * the embedded default.
 */
export const startSagaRole = async (ctx: RoleContext): Promise<RunningRole> => {
  // Orgo first: a wrong ORGO_WORKSPACE_ID stops the process before the database is even opened
  const orgo = await ctx.orgo();
  if (!orgo) throw new ConfigError('the saga role needs ORGO_API_KEY (the simulated Orgo is only for the embedded default)');
  const storage = await ctx.storage();
  await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS);
  // the connection is the process's (shared with its other roles): closed after the last role stopped
  const saga = await startSaga({
    storage,
    shell: createCommandShell({ store: storage.store, codec: storage.codec }),
    vms: orgo.vms,
    eventSchema: ctx.config.EVENT_STORE_SCHEMA,
    readModelSchema: ctx.config.READ_MODEL_SCHEMA,
    env: ctx.env,
    log: ctx.log,
  });
  return { banner: `saga running (${orgo.describe})`, stop: () => saga.stop() };
};
