import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';

export interface DevPlatform extends Served {
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
}

/**
 * The embedded default: every role in one process on PGlite in DATA_DIR, the provisioning saga
 * included (on a simulated Orgo unless ORGO_API_KEY is set). The HTTP server comes up first so
 * /healthz answers (503 "starting") while the database opens.
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
  return { ...served, operatorKey: operatorKey! };
};

export { stopOnSignals } from './signals.ts';
