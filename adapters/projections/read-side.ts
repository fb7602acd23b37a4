import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { asTenantId, TENANT_ID_PATTERN } from '../../domain/shared/ids.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { cursorText, encodeCursor, invalidCursor, tenantReads } from '../../projections/queries.ts';
import type { Freshness, ReadSide, TenantSummary } from '../../projections/read-side.ts';
import type { Projection } from '../../projections/shared/projection.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import type { Wakeup } from '../event-store/sql/wakeup.ts';
import { readCheckpoint } from './projector.ts';
import { asTenant } from './tenant-session.ts';

export interface ReadSideOptions {
  readonly db: SqlDb;
  readonly schema: string;
  /** The log, to tell how far behind the read models are. */
  readonly store: EventStore;
  /** Decrypts the personal data the read models keep as ciphertext, on the way to its tenant. */
  readonly codec: EventCodec;
  readonly projections: readonly Projection[];
  /** The in-process projector's signal, if it runs here: waiters wake at once instead of polling. */
  readonly applied?: Wakeup;
}

/**
 * One API key by its id, in one round trip: the SECURITY DEFINER function returns that key and
 * nothing else. What the authenticator of any process needs (the API, the WebSocket pushers).
 */
export const apiKeyLookup = (db: SqlDb, schema: string) => async (keyId: string) => {
  const { rows } = await db.query<{ key_id: string; tenant_id: string; scope: 'tenant' | 'auditor'; hash: string; revoked: boolean }>(
    `SELECT * FROM ${schema}.find_api_key($1)`,
    [keyId],
  );
  const r = rows[0];
  return r ? { keyId: r.key_id, tenantId: r.tenant_id, scope: r.scope, hash: r.hash, revoked: r.revoked } : undefined;
};

/** The tenant list's cursor: the last tenant id of a page, opaque to clients. */
const tenantCursor = {
  encode: (tenantId: string) => encodeCursor(tenantId),
  decode(cursor: string | undefined): string | undefined {
    if (cursor === undefined) return undefined;
    const value = cursorText(cursor, 200);
    if (!TENANT_ID_PATTERN.test(value)) throw invalidCursor();
    return value;
  },
};

interface TenantRow {
  tenant_id: string;
  name: string;
  email: string | null;
  tier: TenantSummary['tier'];
  status: TenantSummary['status'];
  created_at: Date;
  updated_at: Date;
}

/**
 * The operator's list of tenants, a page at a time by tenant id, through the SECURITY DEFINER
 * function (the read side's own role sees one tenant at a time); names and emails revealed with
 * each tenant's key.
 */
export const tenantList = (db: SqlDb, schema: string, codec: EventCodec): ReadSide['tenants'] => async (page) => {
  const after = tenantCursor.decode(page.cursor);
  const { rows } = await db.query<TenantRow>(`SELECT * FROM ${schema}.list_tenants($1, $2)`, [after ?? null, page.limit + 1]);
  const items = await Promise.all(
    rows.slice(0, page.limit).map(async (r): Promise<TenantSummary> => {
      const reveal = await codec.revealer(r.tenant_id);
      const stream = tenantStream(asTenantId(r.tenant_id));
      return {
        tenantId: r.tenant_id, name: reveal(stream, 'TenantCreated.name', r.name) ?? '', email: reveal(stream, 'TenantCreated.email', r.email),
        tier: r.tier, status: r.status, createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString(),
      };
    }),
  );
  return { items, next: rows.length > page.limit ? tenantCursor.encode(rows[page.limit - 1]!.tenant_id) : null };
};

const MAX_WAIT_MS = 2_000;
const POLL_MS = 15;

/**
 * Every tenant query runs in its own transaction that first drops to the API role and sets
 * `app.tenant_id` (`asTenant`) — both with is_local = true, so they end with the transaction and a
 * pooled connection can never carry a tenant into the next request.
 */
export const createReadSide = (options: ReadSideOptions): ReadSide => {
  const { db, schema } = options;
  const target = { schema, suffix: '' };

  const behind = (position: bigint | undefined): Promise<number> => options.store.countAfter(position, { limit: 100_000 });

  return {
    async forTenant<T>(tenantId: TenantId, work: (reads: ReturnType<typeof tenantReads>) => Promise<T>) {
      const reveal = await options.codec.revealer(tenantId);
      // the role and the tenant are set in the BEGIN's round trip; the id goes in as an escaped literal
      return db.readTransaction(
        async (tx) => work(tenantReads(schema, async (query) => (await tx.query(query.sql, [...query.parameters])).rows as never, reveal)),
        asTenant(tenantId),
      );
    },

    // no revealer: an unknown id must not cost a data-key read either
    tenantExists: (tenantId) =>
      db.readTransaction(async (tx) => (await tx.query(`SELECT 1 FROM ${schema}.tenants LIMIT 1`, [])).rows.length > 0, asTenant(tenantId)),

    findApiKey: apiKeyLookup(db, schema),

    tenants: tenantList(db, schema, options.codec),

    async usageCounts(tenantId, day) {
      const { rows } = await db.query<{ messages_today: number; active_knights: number; usage_position: string | null }>(
        `SELECT * FROM ${schema}.usage_counts($1, $2::date)`,
        [tenantId, day],
      );
      const position = rows[0]?.usage_position;
      return {
        messagesToday: Number(rows[0]?.messages_today ?? 0),
        activeKnights: Number(rows[0]?.active_knights ?? 0),
        position: position === null || position === undefined ? undefined : BigInt(position),
      };
    },

    async waitFor(minPosition, timeoutMs): Promise<Freshness> {
      const deadline = Date.now() + Math.min(Math.max(timeoutMs, 0), MAX_WAIT_MS);
      for (;;) {
        const seen = options.applied?.generation ?? 0;
        const position = await readCheckpoint(db, target, options.projections);
        if (position !== undefined && position >= minPosition) return { reached: true, position, behindEvents: 0 };
        const left = deadline - Date.now();
        if (left <= 0) return { reached: false, position, behindEvents: await behind(position) };
        if (options.applied) await options.applied.wait(seen, Math.min(left, 250));
        else await new Promise((resolve) => setTimeout(resolve, Math.min(left, POLL_MS)));
      }
    },
  };
};
