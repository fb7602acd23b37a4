import { billingConfigOf, describeBilling, startBillingOn } from './billing.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';

export interface DevPlatform extends Served {
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
  /** With BUS=kafka: the relay's line (`relay running (… → topic on brokers)`). */
  readonly relay?: string;
  /** What billing does: `off (STRIPE_SECRET_KEY is unset …)` or where Stripe is. */
  readonly billing: string;
}

/**
 * The embedded default: every role in one process on PGlite in DATA_DIR, the provisioning saga
 * included (on a simulated Orgo unless ORGO_API_KEY is set). The HTTP server comes up first so
 * /healthz answers (503 "starting") while the database opens. Consumers use the in-process bus;
 * with BUS=kafka (and KAFKA_BROKERS) the relay runs here too, feeding the topic.
 */
export const startDev = async (config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DevPlatform> => {
  let operatorKey: DevPlatform['operatorKey'] | undefined;
  const served = await servePlatform(config, log, {
    projector: 'inline',
    role: 'dev',
    saga: true,
    keys: 'embedded',
    env: async () => {
      operatorKey = await loadOrCreateOperatorKey(config.DATA_DIR, env.OPERATOR_API_KEY || undefined);
      return { ...env, OPERATOR_API_KEY: operatorKey.key };
    },
  });
  // Billing runs only with STRIPE_SECRET_KEY; without it, it says so at start and bills nothing.
  const billing = await startBillingOn({
    storage: served.storage,
    shell: served.platform.ports.shell,
    env,
    eventSchema: config.EVENT_STORE_SCHEMA,
    readModelSchema: config.READ_MODEL_SCHEMA,
    log,
  }).catch(async (error: unknown) => {
    await served.stop();
    throw error;
  });
  const billingLine = billing?.describe ?? describeBilling(billingConfigOf(env));
  const { ROLES } = await import('./roles.ts');
  const relay =
    config.BUS === 'kafka'
      ? await ROLES.relay
          .start({ config, log, env, roles: new Set(['api', 'projector', 'relay']), storage: async () => served.storage })
          .catch(async (error: unknown) => {
            await billing?.running.stop();
            await served.stop();
            throw error;
          })
      : undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await relay?.stop();
      await billing?.running.stop();
      await served.stop();
    })());
  return { ...served, stop, operatorKey: operatorKey!, billing: billingLine, ...(relay ? { relay: relay.banner } : {}) };
};

export { stopOnSignals } from './signals.ts';
