import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { withJwtSecret } from './jwt-secret.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';

export interface DevPlatform extends Served {
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
  /** With BUS=kafka: the relay's line (`relay running (… → topic on brokers)`). */
  readonly relay?: string;
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
      return withJwtSecret(config.DATA_DIR, { ...env, OPERATOR_API_KEY: operatorKey.key });
    },
  });
  if (config.BUS !== 'kafka') return { ...served, operatorKey: operatorKey! };
  const { ROLES } = await import('./roles.ts');
  const relay = await ROLES.relay
    .start({ config, log, env, roles: new Set(['api', 'projector', 'relay']), storage: async () => served.storage })
    .catch(async (error: unknown) => {
      await served.stop();
      throw error;
    });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await relay.stop();
      await served.stop();
    })());
  return { ...served, stop, operatorKey: operatorKey!, relay: relay.banner };
};

export { stopOnSignals } from './signals.ts';
