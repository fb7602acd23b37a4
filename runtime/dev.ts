import { createInProcessLiveFeed } from '../adapters/live/in-process.ts';
import type { LiveFeed } from '../domain/ports/live.ts';
import type { RunningAgents } from './agents.ts';
import { billingConfigOf, describeBilling, startBillingOn } from './billing.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { withJwtSecret } from './jwt-secret.ts';
import { loadOrCreateOperatorKey } from './operator-key.ts';
import { servePlatform } from './serve.ts';
import type { Served } from './serve.ts';
import type { RoleContext, RoleName, RunningRole } from './roles.ts';

export interface DevPlatform extends Served {
  readonly operatorKey: { key: string; created: boolean; file: string | undefined };
  /** Without TELEGRAM_API_ROOT: the local Telegram double this process runs, and the demo bot's token. */
  readonly telegramDouble?: { apiRoot: string; botToken: string };
  /** With BUS=kafka: the relay's line (`relay running (… → topic on brokers)`). */
  readonly relay?: string;
  /** The pushers' line (`ws pushers on ws://…/ws/tenant/{tenantId}`). */
  readonly ws: string;
  /** Ephemeral frames for the tenants' dashboards (agents publish partial replies here). */
  readonly live: LiveFeed;
  /** Agent dispatch, the knight reports and the bridge endpoint (`/bridge` on the API's server). */
  readonly agents: RunningAgents;
  /** What billing does: `off (STRIPE_SECRET_KEY is unset …)` or where Stripe is. */
  readonly billing: string;
}

/**
 * The embedded default: every role in one process on PGlite in DATA_DIR, the provisioning saga
 * included (on a simulated Orgo unless ORGO_API_KEY is set). The HTTP server comes up first so
 * /healthz answers (503 "starting") while the database opens. Consumers use the in-process bus;
 * with BUS=kafka (and KAFKA_BROKERS) the relay runs here too, feeding the topic. The WebSocket
 * pushers share the HTTP server (`/ws/tenant/{id}`), with an in-process live feed.
 */
export const startDev = async (config: Config, log: Logger, processEnv: NodeJS.ProcessEnv = process.env): Promise<DevPlatform> => {
  const env = withDevDefaults(processEnv);
  let operatorKey: DevPlatform['operatorKey'] | undefined;
  // No real Telegram configured: a local Bot API double, so a whole bot conversation runs on this machine.
  const double = env.TELEGRAM_API_ROOT ? undefined : await startLocalTelegram();
  const withDouble = (served: Served): Served & Pick<DevPlatform, 'telegramDouble'> =>
    double
      ? {
          ...served,
          telegramDouble: { apiRoot: double.double.apiRoot, botToken: double.bot.token },
          stop: async () => {
            await served.stop();
            await double.double.close();
          },
        }
      : served;
  const served = withDouble(
    await servePlatform(config, log, {
      projector: 'inline',
      role: 'dev',
      saga: true,
      bots: true,
      keys: 'embedded',
      env: async () => {
        operatorKey = await loadOrCreateOperatorKey(config.DATA_DIR, env.OPERATOR_API_KEY || undefined);
        return withJwtSecret(config.DATA_DIR, { ...env, OPERATOR_API_KEY: operatorKey.key, ...(double ? { TELEGRAM_API_ROOT: double.double.apiRoot } : {}) });
      },
    }).catch(async (error: unknown) => {
      await double?.double.close();
      throw error;
    }),
  );
  const live = createInProcessLiveFeed();
  const { livePartials, startAgents } = await import('./agents.ts');
  const agents = await startAgents({
    storage: served.storage,
    ports: served.platform.ports,
    reads: served.platform.reads,
    server: served.http.server,
    env,
    log,
    partials: livePartials(live, log),
  }).catch(async (error: unknown) => {
    await served.stop();
    throw error;
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
    await agents.stop();
    await served.stop();
    throw error;
  });
  const billingLine = billing?.describe ?? describeBilling(billingConfigOf(env));
  const { ROLES } = await import('./roles.ts');
  const ctx = (roles: RoleName[]): RoleContext => ({
    config,
    log,
    env,
    roles: new Set(roles),
    storage: async () => served.storage,
    orgo: async () => served.orgo,
    shared: { http: served.http, auth: served.platform.api.auth, live },
  });
  const started: RunningRole[] = [];
  const stopAll = async () => {
    for (const role of started.reverse()) await role.stop();
    await billing?.running.stop();
    await agents.stop();
    await served.stop();
  };
  try {
    if (config.BUS === 'kafka') started.push(await ROLES.relay.start(ctx(['api', 'projector', 'relay'])));
    started.push(await ROLES.ws.start(ctx(['api', 'projector', 'relay', 'ws'])));
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll());
  return {
    ...served,
    stop,
    operatorKey: operatorKey!,
    live,
    agents,
    billing: billingLine,
    ws: started[started.length - 1]!.banner,
    ...(config.BUS === 'kafka' ? { relay: started[0]!.banner } : {}),
  };
};

const startLocalTelegram = async () => {
  const { startTelegramDouble } = await import('../adapters/channels/doubles/telegram-bot-api.ts');
  const double = await startTelegramDouble();
  return { double, bot: double.addBot({ username: 'local_demo_bot' }) };
};

/**
 * The embedded default runs on the developer's own machine, where a tenant's gateway is usually a
 * local OpenClaw (http://127.0.0.1:18789): private addresses are allowed unless the environment
 * says GATEWAY_ALLOW_PRIVATE_NETWORKS=false. The production roles default to false.
 */
export const withDevDefaults = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, GATEWAY_ALLOW_PRIVATE_NETWORKS: env.GATEWAY_ALLOW_PRIVATE_NETWORKS || 'true' });

export { stopOnSignals } from './signals.ts';
