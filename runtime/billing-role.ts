import { migrateReadModels } from '../adapters/projections/projector.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { startBillingOn } from './billing.ts';
import { ConfigError } from './config.ts';
import type { RoleContext, RunningRole } from './roles.ts';

/**
 * The `billing` role: Stripe customers, subscriptions and metered usage from the bus, grace
 * periods, reconciliation. Webhooks and the Checkout/portal links are served by the `api` role.
 */
export const startBillingRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const storage = await ctx.storage();
  await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS);
  const billing = await startBillingOn({
    storage,
    shell: createCommandShell({ store: storage.store, codec: storage.codec }),
    env: ctx.env,
    eventSchema: ctx.config.EVENT_STORE_SCHEMA,
    readModelSchema: ctx.config.READ_MODEL_SCHEMA,
    log: ctx.log,
  });
  if (!billing) throw new ConfigError('the billing role needs STRIPE_SECRET_KEY');
  return { banner: `billing running (${billing.describe})`, stop: () => billing.running.stop() };
};
