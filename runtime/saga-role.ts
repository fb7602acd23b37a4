import { migrateReadModels } from '../adapters/projections/projector.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError } from './config.ts';
import { connectOrgo } from './orgo.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import { startSaga } from './saga.ts';

/**
 * The `saga` role: provisions agent VMs and knights on Orgo, on the storage of the process that
 * runs it (alone, or beside other roles). It needs a real Orgo key: the simulated Orgo is only for
 * the embedded default.
 */
export const startSagaRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const storage = await ctx.storage();
  await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS);
  const orgo = await connectOrgo(ctx.env, ctx.log, { simulate: false });
  if (!orgo) throw new ConfigError('the saga role needs ORGO_API_KEY (the simulated Orgo is only for the embedded default)');
  try {
    const saga = await startSaga({
      storage,
      shell: createCommandShell({ store: storage.store, codec: storage.codec }),
      vms: orgo.vms,
      eventSchema: ctx.config.EVENT_STORE_SCHEMA,
      readModelSchema: ctx.config.READ_MODEL_SCHEMA,
      env: ctx.env,
      log: ctx.log,
    });
    return {
      banner: `saga running (${orgo.describe})`,
      async stop() {
        await saga.stop();
        await orgo.close();
      },
    };
  } catch (error) {
    await orgo.close();
    throw error;
  }
};
