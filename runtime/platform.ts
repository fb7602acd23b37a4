import { randomUUID } from 'node:crypto';
import { createAuditLog } from '../adapters/audit/service.ts';
import type { Express } from 'express';
import { pseudonymsOf } from '../adapters/crypto/pseudonyms.ts';
import { createHttpApi, installFallbacks } from '../adapters/http/index.ts';
import type { HttpApi } from '../adapters/http/index.ts';
import { createWebhookRouter } from '../adapters/http/webhooks.ts';
import type { ChannelPlatforms } from '../domain/ports/channels.ts';
import { createWakeup } from '../adapters/event-store/sql/wakeup.ts';
import type { Wakeup } from '../adapters/event-store/sql/wakeup.ts';
import { migrateReadModels, projectedChannel } from '../adapters/projections/projector.ts';
import type { Projector } from '../adapters/projections/projector.ts';
import { knightReservations } from '../adapters/projections/knight-reservations.ts';
import { createReadSide } from '../adapters/projections/read-side.ts';
import type { CommandPorts } from '../commands/context.ts';
import type { VmProvider } from '../domain/ports/vm-provider.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import type { TenantId } from '../domain/shared/ids.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import { countingUsage, USAGE_MAX_AGE_MS } from '../commands/usage.ts';
import type { ReadSide } from '../projections/read-side.ts';
import { PROJECTIONS } from '../projections/index.ts';
import { billingHttpOf } from './billing.ts';
import type { Logger } from './logger.ts';
import { startProjectorThread } from './projector-host.ts';
import { projectorOn } from './projector.ts';
import type { ProjectorHandle } from './projector-host.ts';
import type { Storage } from './stores.ts';
import { installShellTelemetry, mountMetrics, watchReadModels } from './telemetry.ts';

export interface PlatformOptions {
  readonly storage: Storage;
  readonly eventSchema: string;
  readonly readModelSchema: string;
  readonly log: Logger;
  /** Raw environment for the HTTP API's own settings (auth, limits). */
  readonly env: Record<string, string | undefined>;
  /**
   * Where the projector runs: `inline` on this event loop (the embedded default, tests), `thread`
   * in a worker thread of this process (PostgreSQL stores; it opens its own connections from
   * `threadEnv`), `none` elsewhere (the `projector` role) — then this process hears of applied
   * batches by LISTEN on the projector's NOTIFY channel.
   */
  readonly projector: 'inline' | 'thread' | 'none';
  /** The configuration the projector thread opens its storage with. */
  readonly threadEnv?: Record<string, string | undefined>;
  /** PROJECTOR_LINGER_MS for an inline projector (a thread reads it from `threadEnv`). */
  readonly projectorLingerMs?: number;
  /** The computers knights run on, for the API's live screenshots. */
  readonly vms?: VmProvider | undefined;
  /** Telegram and WhatsApp for the connect routes. */
  readonly channels?: ChannelPlatforms | undefined;
}

export interface Platform {
  readonly ports: CommandPorts;
  readonly reads: ReadSide;
  readonly projector: ProjectorHandle | undefined;
  readonly api: HttpApi;
  mount(app: Express): void;
  stop(): Promise<void>;
}

/** Wires the command side, the read side, the projector and the HTTP API over one storage. */
export const createPlatform = async (options: PlatformOptions): Promise<Platform> => {
  const { storage, log } = options;
  installShellTelemetry();
  await migrateReadModels(storage.db, options.readModelSchema, PROJECTIONS);
  const inline =
    options.projector === 'inline'
      ? projectorOn(storage, log, {
          schema: options.readModelSchema,
          db: storage.projectorDb,
          ...(options.projectorLingerMs === undefined ? {} : { lingerMs: options.projectorLingerMs }),
        })
      : undefined;
  let projector: ProjectorHandle | undefined = inline;
  if (options.projector === 'thread') {
    if (!options.threadEnv) throw new Error('a projector thread needs the environment to open its storage with');
    projector = await startProjectorThread(options.threadEnv, {
      onFailure: (error) => log.error({ err: error }, 'projector thread failed; starting it again'),
    });
  }
  // Without a projector here, the read side hears of applied batches by LISTEN.
  let heard: { applied: Wakeup; close(): Promise<void> } | undefined;
  try {
    if (!projector) {
      const wakeup = createWakeup();
      const listener = await storage.db.listen(projectedChannel({ schema: options.readModelSchema, suffix: '' }), wakeup.notify);
      heard = { applied: wakeup, close: () => listener.close() };
    }
    return wire(options, inline, projector, heard);
  } catch (error) {
    // a thread or a LISTEN connection started above would keep the process alive
    await projector?.stop();
    await heard?.close();
    throw error;
  }
};

/**
 * The command side on a storage: the shell, the clock, ids, and quota counts from the read side;
 * knight deploys hold their places in the read-model database (`readModelSchema`), which every
 * process deploying knights shares — PostgreSQL, or the embedded default's PGlite alike.
 */
export const commandPortsOn = (storage: Storage, reads: ReadSide, options: { readModelSchema: string; log: Logger }): CommandPorts => {
  const reserveKnight = knightReservations({
    db: storage.db,
    schema: options.readModelSchema,
    newId: randomUUID,
    onSettleFailed: (error) => options.log.warn({ err: error }, 'a knight reservation could not be settled; it expires instead'),
  });
  return {
    shell: createCommandShell({ store: storage.store, codec: storage.codec }),
    clock: () => new Date(),
    newId: randomUUID,
    usage: {
      ...countingUsage({
        messagesToday: async (tenantId, day) => {
          const counts = await reads.usageCounts(tenantId, day);
          return { messages: counts.messagesToday, position: counts.position };
        },
        activeKnights: async (tenantId) => (await reads.usageCounts(tenantId, new Date().toISOString().slice(0, 10))).activeKnights,
        maxAgeMs: USAGE_MAX_AGE_MS,
      }),
      reserveKnight,
    },
    apiKeyOwner: async (keyId) => (await reads.findApiKey(keyId))?.tenantId,
    // erasure deletes the tenant's data key (crypto-shredding, docs/audit.md)
    ...(storage.keys ? { eraseDataKey: (tenantId: string) => storage.keys!.erase(tenantId), pseudonyms: pseudonymsOf(storage.keys) } : {}),
  };
};

/** The read side, the command ports and the HTTP API, once the projector runs (or is heard of). */
const wire = (
  options: PlatformOptions,
  inline: Projector | undefined,
  projector: ProjectorHandle | undefined,
  heard: { applied: Wakeup; close(): Promise<void> } | undefined,
): Platform => {
  const { storage, log } = options;
  const applied = projector?.applied ?? heard!.applied;
  const reads = createReadSide({
    db: storage.db,
    schema: options.readModelSchema,
    store: storage.store,
    codec: storage.codec,
    projections: PROJECTIONS,
    applied,
  });
  const ports = commandPortsOn(storage, reads, { readModelSchema: options.readModelSchema, log });
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined && v !== ''));
  const audit = createAuditLog({ store: storage.store, codec: storage.codec });
  const billing = billingHttpOf({ env, shell: ports.shell, db: storage.db, eventSchema: options.eventSchema, log });
  const api = createHttpApi({ ports, reads, log, config: env, vms: options.vms, audit, channels: options.channels, billing: billing.links });
  const webhooks = createWebhookRouter({ ports, log, tenantExists: tenantExistsOn(storage.store, reads) });
  inline?.start();
  const unwatch = watchReadModels(storage, options.readModelSchema);
  return {
    ports,
    reads,
    projector,
    api,
    mount(app) {
      app.use(billing.webhook);
      mountMetrics(app, api.auth.authenticator);
      api.mount(app);
      app.use(webhooks);
      installFallbacks(app, log);
    },
    async stop() {
      unwatch();
      await projector?.stop();
      await heard?.close();
      await api.close();
    },
  };
};

/** How far behind the log the read models may be for their "no such tenant" to be believed by the webhooks. */
export const WEBHOOK_TRUSTED_LAG_EVENTS = 1_000;

/**
 * Whether a webhook's slug names a tenant, from the read model: a "no" stands only while the read
 * models are level with the log, within WEBHOOK_TRUSTED_LAG_EVENTS; further behind (read models
 * rebuilt or restored and catching up) it throws, and the webhook reads the tenant's stream instead,
 * so a real tenant's messages are not refused while its row is not projected yet.
 */
export const tenantExistsOn =
  (store: EventStore, reads: ReadSide) =>
  async (tenantId: TenantId): Promise<boolean> => {
    if (await reads.tenantExists(tenantId)) return true;
    const head = await store.headPosition();
    if (head === undefined) return false;
    const level = await reads.waitFor(head, 0);
    if (!level.reached && level.behindEvents > WEBHOOK_TRUSTED_LAG_EVENTS) throw new Error(`read models ${level.behindEvents} events behind the log`);
    return false;
  };
