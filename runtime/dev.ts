import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';

export interface DevPlatform extends Served {
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
  /** With BUS=kafka: the relay's line (`relay running (… → topic on brokers)`). */
  readonly relay?: string;
}

/**
 * The embedded default: every role in one process on PGlite in DATA_DIR. The HTTP server comes
 * up first so /healthz answers (503 "starting") while the database opens. Consumers use the
 * in-process bus; with BUS=kafka (and KAFKA_BROKERS) the relay runs here too, feeding the topic.
 */
export const startDev = async (config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<DevPlatform> => {
  let operatorKey: DevPlatform['operatorKey'] | undefined;
  const served = await servePlatform(config, log, {
    projector: 'inline',
    role: 'dev',
    env: async () => {
      operatorKey = await loadOrCreateOperatorKey(config.DATA_DIR, env.OPERATOR_API_KEY || undefined);
      return { ...env, OPERATOR_API_KEY: operatorKey.key };
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

/**
 * Ctrl-C or SIGTERM stops cleanly; another one more than a second later exits at once (a wrapper
 * that relays the terminal's Ctrl-C can deliver the same press twice).
 */
export const stopOnSignals = (stop: () => Promise<void>, log: Logger) => {
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt !== undefined) {
      if (Date.now() - signalledAt < 1_000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalledAt = Date.now();
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
};
