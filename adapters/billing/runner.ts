import type { Logger } from 'pino';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import type { Bus } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import type { BillingConfig } from './config.ts';
import { meterEventName, tierPricesOf } from './config.ts';
import { startBillingConsumer } from './consumer.ts';
import { defaultReconcileDays, isUnexplained, reconcileUsage } from './reconcile.ts';
import type { StripeCalls } from './stripe-client.ts';
import { createBillingTables } from './tables.ts';
import { createBillingWorker } from './worker.ts';


/**
 * Billing on one storage: the Bus consumer that hands work over, the worker that does it (in a
 * loop every BILLING_TICK_MS, at once again while there is work), the grace-period check, and the
 * periodic usage reconciliation (yesterday and today), logged as one line.
 */
export const startBilling = async (deps: {
  bus: Bus;
  codec: EventCodec;
  store: EventStore;
  db: SqlDb;
  shell: CommandShell;
  stripe: StripeCalls;
  config: BillingConfig;
  eventSchema: string;
  readModelSchema: string;
  instanceId: string;
  log: Logger;
}) => {
  const { config, log } = deps;
  const tables = await createBillingTables(deps.db, deps.eventSchema, deps.instanceId);
  await tables.releaseOwn();
  // a usage report Stripe refused is tried once more per start: the cause (a meter, a customer) may have been fixed meanwhile
  const refused = await tables.retryRefusedUsage();
  if (refused > 0) log.warn({ refused }, 'usage reports Stripe refused before are tried again once (billing started)');
  const worker = createBillingWorker({
    shell: deps.shell,
    store: deps.store,
    stripe: deps.stripe,
    tables,
    prices: tierPricesOf(config),
    meterName: (meter) => meterEventName(config, meter),
    libraryRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    log,
  });
  const subscription = await startBillingConsumer({ bus: deps.bus, codec: deps.codec, store: deps.store, tables });

  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const ran = await worker.tick().catch((error: unknown) => {
        log.error({ err: error instanceof Error ? error.message : String(error) }, 'billing round failed; trying again');
        return 0;
      });
      if (ran === 0 && !stopped)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.BILLING_TICK_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
    }
  })();

  const reconcile = async () => {
    const result = await reconcileUsage({ db: deps.db, eventSchema: deps.eventSchema, readModelSchema: deps.readModelSchema, ...defaultReconcileDays(Date.now()) });
    const unexplained = result.differences.filter(isUnexplained);
    log[unexplained.length > 0 ? 'warn' : 'info'](
      { tenantDays: result.tenantDays, differences: result.differences.length, unexplained: unexplained.length, sample: unexplained.slice(0, 5) },
      'billing reconciliation: reported usage against the usage read model',
    );
    return result;
  };
  const reconciler =
    config.BILLING_RECONCILE_INTERVAL_SECONDS > 0
      ? setInterval(() => void reconcile().catch((error: unknown) => log.error({ err: String(error) }, 'billing reconciliation failed')), config.BILLING_RECONCILE_INTERVAL_SECONDS * 1_000)
      : undefined;
  reconciler?.unref();

  return {
    tables,
    worker,
    reconcile,
    async stop() {
      stopped = true;
      if (reconciler) clearInterval(reconciler);
      await subscription.close();
      wake?.();
      await loop;
    },
  };
};

export type RunningBilling = Awaited<ReturnType<typeof startBilling>>;
