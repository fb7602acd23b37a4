import { createWakeup } from '../adapters/event-store/sql/wakeup.ts';
import { startHttpServer } from '../adapters/http/server.ts';
import { migrateReadModels, projectedChannel } from '../adapters/projections/projector.ts';
import { createReadSide } from '../adapters/projections/read-side.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { checkAgentsConfig, livePartials, startAgents } from './agents.ts';
import { commandPortsOn } from './platform.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import { liveFeedOf } from './ws-role.ts';

/**
 * The `agents` role: agent dispatch and the knight reports on the shared storage, and the
 * bridges' WebSocket endpoint `/bridge` on its own HTTP server (AGENTS_PORT), so the bridges
 * reach the processes that hold their requests. It reads the read models (the local agent's
 * answers) and hears of applied batches by LISTEN, like an API without a projector.
 */
export const startAgentsRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const config = checkAgentsConfig(ctx.env);
  const storage = await ctx.storage();
  await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS);
  const applied = createWakeup();
  const listener = await storage.db.listen(projectedChannel({ schema: ctx.config.READ_MODEL_SCHEMA, suffix: '' }), applied.notify);
  let ready = false;
  const http = await startHttpServer({ port: config.AGENTS_PORT, host: config.AGENTS_HOST, readiness: () => ({ ready }) });
  try {
    const reads = createReadSide({ db: storage.db, schema: ctx.config.READ_MODEL_SCHEMA, store: storage.store, codec: storage.codec, projections: PROJECTIONS, applied });
    // partial replies go to the dashboards: the pushers' feed in this process, else the live topic (BUS=kafka)
    const live = liveFeedOf(ctx, storage);
    const agents = await startAgents({
      storage,
      ports: commandPortsOn(storage, reads, { readModelSchema: ctx.config.READ_MODEL_SCHEMA, log: ctx.log }),
      reads,
      server: http.server,
      env: ctx.env,
      log: ctx.log,
      partials: livePartials(live.feed, ctx.log),
    }).catch(async (error: unknown) => {
      await live.close();
      throw error;
    });
    ready = true;
    return {
      banner: `agents running (runtime ${config.AGENT_RUNTIME}; bridges at ${http.url.replace(/^http/, 'ws')}/bridge; ${storage.describe})`,
      async stop() {
        await agents.stop();
        await live.close();
        await http.close();
        await listener.close();
      },
    };
  } catch (error) {
    await http.close();
    await listener.close();
    throw error;
  }
};
