import type { Auth } from '../adapters/auth/index.ts';
import type { HttpServer } from '../adapters/http/server.ts';
import { createRelay } from '../adapters/relay/relay.ts';
import type { LiveFeed, LiveSource } from '../domain/ports/live.ts';
import { migrateReadModels } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { ConfigError } from './config.ts';
import type { Config } from './config.ts';
import { loadMasterKeys } from './encryption.ts';
import type { KeySource } from './encryption.ts';
import { kafkaOf } from './kafka.ts';
import type { Logger } from './logger.ts';
import type { OrgoConnection } from './orgo.ts';
import { projectorOn } from './projector.ts';
import { openStorage } from './stores.ts';
import { watchDatabase, watchReadModels } from './telemetry.ts';
import type { Storage } from './stores.ts';

/** Every role, in the order a process starts them (and stops them in reverse). */
export const ROLE_NAMES = ['api', 'projector', 'relay', 'saga', 'ws', 'bots', 'agents', 'billing'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** What a role gets from the process that runs it (alone, or beside other roles). */
export interface RoleContext {
  readonly config: Config;
  readonly log: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** Every role this process runs. */
  readonly roles: ReadonlySet<RoleName>;
  /** The process's storage, opened once for all its roles and closed after the last one stopped. */
  storage(): Promise<Storage>;
  /**
   * The process's Orgo connection (undefined without ORGO_API_KEY), made once for all its roles and
   * closed after the last one stopped. ORGO_WORKSPACE_ID is checked at start-up and in readiness only
   * when the process runs the saga (the roles that provision VMs); the API alone takes screenshots.
   */
  orgo(): Promise<OrgoConnection | undefined>;
  /** What one role of this process lends the roles started after it (the api role's HTTP server and auth, the live feed). */
  readonly shared: RoleShared;
}

export interface RoleShared {
  http?: HttpServer;
  auth?: Auth;
  live?: LiveFeed & LiveSource;
}

export interface RunningRole {
  /** The line printed on stdout once the role is up (scripts and tests wait for it). */
  readonly banner: string;
  stop(): Promise<void>;
}

interface Role {
  readonly summary: string;
  /** What it needs to run, for `--help` and the README. */
  readonly needs: readonly string[];
  /**
   * Does it decrypt or write personal data (then ENCRYPTION_KEY is required), or only move events
   * as stored (then it runs without master keys)?
   */
  readonly keys: KeySource;
  /** Refuses a configuration the role cannot run on, before anything starts (exit code 2). */
  check(config: Config, env: NodeJS.ProcessEnv): Promise<void> | void;
  start(ctx: RoleContext): Promise<RunningRole>;
}

const SHARED_DATABASE =
  'a database other processes share: set DATABASE_URL (PostgreSQL), or EVENTSTORE_URL and DATABASE_URL.\n' +
  'Embedded PGlite (no DATABASE_URL) runs every role in one process: use `openclaw-service dev`.';

const needsSharedDatabase = (role: string) => (config: Config) => {
  if (config.eventStore === 'pglite') throw new ConfigError(`the ${role} role needs ${SHARED_DATABASE}`);
  if (!config.DATABASE_URL) throw new ConfigError(`the ${role} role keeps its checkpoints in PostgreSQL: with EVENT_STORE=eventstoredb set DATABASE_URL too`);
};

/**
 * Every role a process can run. Each runs alone (`openclaw-service <role>`) or beside others
 * (`openclaw-service start --roles a,b`) on one shared storage; `dev` runs the platform on the
 * embedded default instead. A new role (bots, agents, ws, saga, billing) is one entry here.
 */
export const ROLES: Record<RoleName, Role> = {
  api: {
    summary: 'the HTTP API; its projector runs where PROJECTOR_MODE says, or in the projector role of the same process',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'PORT, HOST', 'JWT_* and OPERATOR_API_KEY'],
    keys: 'required',
    check: async (config, env) => (await import('./api-role.ts')).checkApiRoleConfig(config, env),
    async start(ctx) {
      const { startApiRole } = await import('./api-role.ts');
      const api = await startApiRole(ctx.config, ctx.log, ctx.env, {
        storage: ctx.storage,
        orgo: ctx.orgo,
        ...(ctx.roles.has('projector') ? { projector: 'none' as const } : {}),
      });
      ctx.shared.http = api.http;
      ctx.shared.auth = api.platform.api.auth;
      const projector = ctx.roles.has('projector') ? 'projector role' : ctx.config.PROJECTOR_MODE;
      return {
        banner: `openclaw-service api ready on ${api.url} (api ${api.url}/api/v1, health ${api.url}/healthz; projector: ${projector}; ${api.storage.describe})`,
        stop: api.stop,
      };
    },
  },
  projector: {
    summary: 'builds the read models from the log (one or more per deployment; they take turns by checkpoint lock)',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL'],
    keys: 'optional', // copies ciphertext into the read models, never decrypts
    check: needsSharedDatabase('projector'),
    async start(ctx) {
      const storage = await ctx.storage();
      await migrateReadModels(storage.db, ctx.config.READ_MODEL_SCHEMA, PROJECTIONS);
      const projector = projectorOn(storage, ctx.log, { schema: ctx.config.READ_MODEL_SCHEMA, lingerMs: ctx.config.PROJECTOR_LINGER_MS });
      projector.start();
      const unwatch = watchReadModels(storage, ctx.config.READ_MODEL_SCHEMA);
      ctx.log.info({ schema: ctx.config.READ_MODEL_SCHEMA }, 'projector running');
      return { banner: 'projector running', stop: async () => (unwatch(), await projector.stop()) };
    },
  },
  relay: {
    summary: 'produces every stored event to the Kafka topic, in order per stream, from its checkpoint',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'KAFKA_BROKERS', 'KAFKA_TOPIC, KAFKA_PARTITIONS'],
    keys: 'optional', // relays events as stored: ciphertext stays ciphertext on the topic
    check: (config) => {
      needsSharedDatabase('relay')(config);
      kafkaOf(config, undefined, 'the relay role');
    },
    async start(ctx) {
      const storage = await ctx.storage();
      const { kafka, settings } = kafkaOf(ctx.config, ctx.log, 'the relay role');
      const relay = createRelay({ store: storage.store, checkpoints: storage.checkpoints, kafka, settings, log: ctx.log });
      relay.start();
      ctx.log.info({ topic: settings.topic, brokers: settings.brokers }, 'relay running');
      return { banner: `relay running (${storage.describe} → ${settings.topic} on ${settings.brokers.join(',')})`, stop: () => relay.stop() };
    },
  },
  saga: {
    summary: 'provisions agent VMs and knights on Orgo (one or more; give each on one host its own SAGA_INSTANCE_ID)',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'ORGO_API_KEY, ORGO_WORKSPACE_ID'],
    keys: 'required', // reads knights' tasks (personal data) to run them
    check: async (config, env) => {
      needsSharedDatabase('saga')(config);
      (await import('./saga.ts')).checkSagaConfig(env);
      if (!env.ORGO_API_KEY) throw new ConfigError('the saga role needs ORGO_API_KEY (the simulated Orgo is only for the embedded default)');
    },
    start: async (ctx) => (await import('./saga-role.ts')).startSagaRole(ctx),
  },
  ws: {
    summary: 'WebSocket pushers: /ws/tenant/{id} streams a tenant\'s events and live frames to dashboards (one or more; each sees every event)',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'JWT_* (the api role\'s keys) and OPERATOR_API_KEY', 'PORT, HOST (unless beside the api role: then its server)', 'WS_*'],
    keys: 'required', // decodes events `view` (personal data decrypted) for their tenant
    check: async (config, env) => {
      needsSharedDatabase('ws')(config);
      (await import('./ws-role.ts')).checkWsRoleConfig(env);
    },
    start: async (ctx) => (await import('./ws-role.ts')).startWsRole(ctx),
  },
  bots: {
    summary: "sends agents' answers to bot users on Telegram and WhatsApp (exactly one send per message, see docs/channels.md)",
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'TELEGRAM_API_ROOT, WHATSAPP_GRAPH_URL (defaults: the real APIs)'],
    keys: 'required', // decrypts bot tokens and the messages it sends
    check: async (config, env) => {
      needsSharedDatabase('bots')(config);
      (await import('./config.ts')).parseEnv((await import('../adapters/channels/config.ts')).channelsConfigSchema, env);
    },
    start: async (ctx) => (await import('./bots-role.ts')).startBotsRole(ctx),
  },
  agents: {
    summary: "answers users' messages with each tenant's agent (local, its gateway, or its VM's bridge) and reports knights into chats; serves /bridge",
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'AGENT_RUNTIME, AGENTS_PORT, OPENCLAW_*'],
    keys: 'required', // reads message text, writes replies, opens gateway tokens
    check: async (config, env) => {
      needsSharedDatabase('agents')(config);
      (await import('./agents.ts')).checkAgentsConfig(env);
    },
    start: async (ctx) => (await import('./agents-role.ts')).startAgentsRole(ctx),
  },
  billing: {
    summary: 'Stripe: a customer and subscription per tenant, metered usage, grace periods, reconciliation (webhooks are served by the api role)',
    needs: ['DATABASE_URL (PostgreSQL store) or EVENTSTORE_URL + DATABASE_URL', 'ENCRYPTION_KEY', 'STRIPE_SECRET_KEY, STRIPE_PRICE_<TIER>'],
    keys: 'required', // reads the tenant's name and email (personal data) for its Stripe customer
    check: async (config, env) => {
      needsSharedDatabase('billing')(config);
      (await import('./billing.ts')).billingConfigOf(env);
      if (!env.STRIPE_SECRET_KEY) throw new ConfigError('the billing role needs STRIPE_SECRET_KEY');
    },
    start: async (ctx) => (await import('./billing-role.ts')).startBillingRole(ctx),
  },
};

export const isRoleName = (name: string): name is RoleName => (ROLE_NAMES as readonly string[]).includes(name);

/**
 * Starts `names` in one process on one storage, in table order, and says how to stop them all
 * (in reverse, then the storage). A role that fails to start stops those already started.
 */
export const startRoles = async (names: readonly RoleName[], config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env) => {
  const roles = new Set(names);
  const ordered = ROLE_NAMES.filter((r) => roles.has(r));
  for (const name of ordered) await ROLES[name].check(config, env);
  const keys: KeySource = ordered.some((name) => ROLES[name].keys === 'required') ? 'required' : 'optional';
  const master = await loadMasterKeys(config, keys);
  let opened: Promise<Storage> | undefined;
  let unwatchDatabase: (() => void) | undefined;
  // whichever roles run here, readiness says whether their database answers
  const storage = () => (opened ??= openStorage(config, ordered.join('+'), { master, log }).then((s) => ((unwatchDatabase = watchDatabase(s)), s)));
  let connected: Promise<OrgoConnection | undefined> | undefined;
  const orgo = () =>
    (connected ??= import('./orgo.ts').then(({ connectOrgo }) => connectOrgo(env, log, { simulate: false, provisions: roles.has('saga') })));
  const ctx: RoleContext = { config, log, env, roles, storage, orgo, shared: {} };
  const running: RunningRole[] = [];
  const stop = async () => {
    for (const role of running.reverse()) await role.stop();
    await (await connected?.catch(() => undefined))?.close();
    unwatchDatabase?.();
    await (await opened?.catch(() => undefined))?.close();
  };
  try {
    for (const name of ordered) running.push(await ROLES[name].start(ctx));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { banners: running.map((r) => r.banner), stop };
};
