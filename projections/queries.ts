import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { CompiledQuery, ExpressionBuilder } from 'kysely';
import { KNIGHT_STATUSES_AT_WORK } from '../domain/knight/limits.ts';
import type { Reveal } from '../domain/ports/codec.ts';
import { domainError } from '../domain/shared/errors.ts';
import { asConversationId, asKnightId, asTenantId } from '../domain/shared/ids.ts';
import { conversationStream, knightStream, tenantStream } from '../domain/shared/streams.ts';
import type {
  ApiKeyView, ConversationView, KnightView, MessageView, Page, PageRequest, TenantReads, TenantView, UsageView,
} from './read-side.ts';
import { PLACE_PATTERN } from './read-side.ts';

/** Column types of the read-model tables as kysely sees them. */
interface Tables {
  tenants: { tenant_id: string; name: string; email: string | null; tier: string; status: string; telegram_bot: string | null; whatsapp_number: string | null; agent_vm_status: string | null; agent_vm_id: string | null; agent_vm_request_id: string | null; agent_vm_failure_stage: string | null; agent_vm_failure_reason: string | null; created_at: Date; updated_at: Date };
  api_keys: { key_id: string; tenant_id: string; scope: string; label: string; hash: string; created_at: Date; revoked_at: Date | null };
  conversations: { tenant_id: string; conversation_id: string; channel: string; external_chat_id: string | null; title: string | null; status: string; message_count: number; last_message_at: Date | null; created_at: Date; created_position: string };
  messages: { tenant_id: string; conversation_id: string; message_id: string; seq: number; chat_seq: string | null; role: string; channel: string; text: string; delivery: string; in_reply_to: string | null; created_at: Date };
  knights: { tenant_id: string; knight_id: string; status: string; task: string; cpu: number; ram_gb: number; vm_id: string | null; vm_name: string | null; url: string | null; progress: number | null; progress_note: string | null; result: string | null; screenshot_url: string | null; failure_stage: string | null; failure_reason: string | null; created_at: Date; updated_at: Date; created_position: string };
  usage_daily: { tenant_id: string; day: string; messages: number };
  knight_usage: { tenant_id: string; knight_id: string; started_at: Date; ended_at: Date | null };
}

/** Kysely as a query builder only: queries compile to SQL that runs inside our own RLS transaction. */
const builder = new Kysely<Tables>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

export type Run = <R>(query: CompiledQuery<R>) => Promise<R[]>;

/** A day's usage as three scalar subqueries (messages, active knights, knight minutes), for a select without FROM. */
const usageColumns = (eb: ExpressionBuilder<Tables, never>, day: string) => [
  eb.selectFrom('usage_daily').select('messages').where('day', '=', day).as('messages'),
  eb.selectFrom('knights').select(sql<number>`count(*)::int`.as('n')).where('status', 'in', [...KNIGHT_STATUSES_AT_WORK]).as('n'),
  eb.selectFrom('knight_usage').select(sql<number>`coalesce(sum(extract(epoch from (coalesce(ended_at, now()) - started_at))) / 60, 0)::float8`.as('m')).as('m'),
] as const;

const usageOf = (row: { messages?: number | null; n?: number | null; m?: number | null } | undefined): UsageView => ({
  messagesToday: Number(row?.messages ?? 0),
  activeKnights: Number(row?.n ?? 0),
  knightMinutes: Math.floor(Number(row?.m ?? 0)),
});

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export const encodeCursor = (value: string | number) => Buffer.from(String(value)).toString('base64url');
export const invalidCursor = () => domainError('validation', 'invalid_cursor', 'invalid cursor: pass back the `next` value of a previous page');
/** The text a cursor carries: base64url of at most `maxLength` characters, else '' (which no decoder takes). */
export const cursorText = (cursor: string, maxLength: number): string =>
  cursor.length <= maxLength && /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';

/** A place as the events write it: no trailing fractional zeros (`numeric` keeps a column's scale). */
const normalPlace = (place: string) => (place.includes('.') ? place.replace(/\.?0+$/, '') : place);

/** A cursor over a decimal place in the history, after `prefix` (`<` from the newest end). */
const decodeDecimalCursor = (cursor: string | undefined, prefix: string): string | undefined => {
  if (cursor === undefined) return undefined;
  const text = cursorText(cursor, 300);
  const value = text.slice(prefix.length);
  if (!text.startsWith(prefix) || !PLACE_PATTERN.test(value)) throw invalidCursor();
  return value;
};

const decodeCursor = (cursor: string | undefined): string | undefined => {
  if (cursor === undefined) return undefined;
  const value = cursorText(cursor, 40);
  // a position column is int8: a larger number would be a database error (a 500), not a bad cursor
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > 9_223_372_036_854_775_807n) throw invalidCursor();
  return value;
};

/**
 * A cursor over the API keys' order, created time then key id: the last key of a page, its time to
 * the microsecond as PostgreSQL keeps it (a millisecond Date would land before that key and repeat it).
 */
const apiKeyCursor = {
  encode: (r: { at: string; key_id: string }) => `${r.at} ${r.key_id}`,
  decode(cursor: string | undefined): { at: string; keyId: string } | undefined {
    if (cursor === undefined) return undefined;
    const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{6}Z) ([\x21-\x7e]{1,512})$/.exec(cursorText(cursor, 512));
    const seconds = match?.[1] ?? '';
    // a 30 February or a year 0 would be a database error (a 500), not a bad cursor
    const real = !seconds.startsWith('0000') && !Number.isNaN(Date.parse(`${seconds}Z`)) && new Date(`${seconds}Z`).toISOString().startsWith(seconds);
    if (!match || !real) throw invalidCursor();
    return { at: `${seconds}${match[2]!}`, keyId: match[3]! };
  },
};

const pageOf = <Row, View>(rows: Row[], limit: number, view: (r: Row) => View, cursorOf: (r: Row) => string | number): Page<View> => ({
  items: rows.slice(0, limit).map(view),
  next: rows.length > limit ? encodeCursor(cursorOf(rows[limit - 1]!)) : null,
});

/**
 * Personal data is ciphertext in the read models, as in the log: each column is revealed with the
 * stream and the event field it was copied from (its ciphertext is bound to them).
 */
const conversationView = (r: Tables['conversations'], reveal: Reveal): ConversationView => {
  const stream = conversationStream(asTenantId(r.tenant_id), asConversationId(r.conversation_id));
  return {
    conversationId: r.conversation_id, channel: r.channel as ConversationView['channel'],
    externalChatId: reveal(stream, 'ConversationStarted.externalChatId', r.external_chat_id ?? null),
    title: reveal(stream, 'ConversationStarted.title', r.title),
    status: r.status as ConversationView['status'], messageCount: Number(r.message_count),
    lastMessageAt: iso(r.last_message_at), createdAt: iso(r.created_at)!,
  };
};

/** Where a live screenshot of a knight's computer is served (see the knights routes). */
export const liveScreenshotPath = (knightId: string) => `/api/v1/knights/${knightId}/screenshot`;
const COMPUTER_RUNS = new Set(['provisioned', 'working']);

const knightView = (r: Tables['knights'], reveal: Reveal): KnightView => {
  const stream = knightStream(asTenantId(r.tenant_id), asKnightId(r.knight_id));
  return {
    knightId: r.knight_id, status: r.status,
    task: reveal(stream, 'KnightRequested.task', r.task) ?? '',
    cpu: Number(r.cpu), ramGb: Number(r.ram_gb), vmId: r.vm_id,
    url: r.url, progress: r.progress === null ? null : Number(r.progress),
    progressNote: reveal(stream, 'KnightTaskProgressed.note', r.progress_note ?? null),
    result: reveal(stream, 'KnightTaskCompleted.result', r.result ?? null),
    screenshotUrl: r.screenshot_url ?? (r.vm_id && COMPUTER_RUNS.has(r.status) ? liveScreenshotPath(r.knight_id) : null),
    failure: r.failure_stage ? { stage: r.failure_stage, reason: reveal(stream, 'KnightFailed.reason', r.failure_reason ?? '') ?? '' } : null,
    createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!,
  };
};

/** The tenant's queries. Row-level security already limits every table to that tenant. */
export const tenantReads = (schema: string, run: Run, reveal: Reveal): TenantReads => {
  const db = builder.withSchema(schema);
  return {
    async tenant() {
      const [r] = await run(db.selectFrom('tenants').selectAll().compile());
      if (!r) return undefined;
      const stream = tenantStream(asTenantId(r.tenant_id));
      return {
        tenantId: r.tenant_id, name: reveal(stream, 'TenantCreated.name', r.name) ?? '', email: reveal(stream, 'TenantCreated.email', r.email),
        tier: r.tier as TenantView['tier'], status: r.status as TenantView['status'],
        telegram: r.telegram_bot ? { botUsername: r.telegram_bot } : null,
        whatsapp: r.whatsapp_number ? { displayPhoneNumber: reveal(stream, 'WhatsAppNumberConnected.displayPhoneNumber', r.whatsapp_number) ?? '' } : null,
        agentVm: r.agent_vm_status
          ? {
              status: r.agent_vm_status as 'requested' | 'ready' | 'failed', requestId: r.agent_vm_request_id ?? null, vmId: r.agent_vm_id,
              failure: r.agent_vm_failure_stage ? { stage: r.agent_vm_failure_stage, reason: r.agent_vm_failure_reason ?? '' } : null,
            }
          : null,
        createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!,
      };
    },
    async apiKeys(page) {
      const after = apiKeyCursor.decode(page.cursor);
      const at = sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
      // oldest first, ties broken by id: a key added while paging comes after the keys already seen
      let q = db.selectFrom('api_keys').select(['key_id', 'scope', 'label', 'created_at', 'revoked_at']).select(at.as('at')).orderBy('created_at').orderBy('key_id').limit(page.limit + 1);
      if (after !== undefined) q = q.where(sql<boolean>`(created_at, key_id) > (${after.at}::timestamptz, ${after.keyId})`);
      return pageOf(await run(q.compile()), page.limit, (r): ApiKeyView => ({
        keyId: r.key_id, scope: r.scope as ApiKeyView['scope'], label: r.label, createdAt: iso(r.created_at)!, revokedAt: iso(r.revoked_at),
      }), apiKeyCursor.encode);
    },
    async conversations(page: PageRequest) {
      const after = decodeCursor(page.cursor);
      let q = db.selectFrom('conversations').selectAll().orderBy('created_position', 'desc').limit(page.limit + 1);
      if (after !== undefined) q = q.where('created_position', '<', after);
      return pageOf(await run(q.compile()), page.limit, (r) => conversationView(r, reveal), (r) => r.created_position);
    },
    async conversation(id) {
      const [r] = await run(db.selectFrom('conversations').selectAll().where('conversation_id', '=', id).compile());
      return r ? conversationView(r, reveal) : undefined;
    },
    async messages(conversationId, page) {
      const newest = page.order === 'newest';
      // a cursor from the newest end says so ('<'), so one cannot be passed back in the other order
      const after = decodeDecimalCursor(page.cursor, newest ? '<' : '');
      const bound = after ?? (newest ? page.before : undefined);
      const place = sql<string>`coalesce(chat_seq, seq::numeric)`;
      let q = db.selectFrom('messages').selectAll().select(place.as('place')).where('conversation_id', '=', conversationId).limit(page.limit + 1);
      q = newest ? q.orderBy(place, 'desc').orderBy('seq', 'desc') : q.orderBy(place).orderBy('seq');
      if (bound !== undefined) q = q.where(place, newest ? '<' : '>', bound);
      return pageOf(await run(q.compile()), page.limit, (r): MessageView => ({
        messageId: r.message_id, seq: Number(r.seq), place: normalPlace(String(r.place)), role: r.role as MessageView['role'], channel: r.channel as MessageView['channel'],
        text: reveal(conversationStream(asTenantId(r.tenant_id), asConversationId(r.conversation_id)), 'MessagePosted.text', r.text) ?? '', delivery: r.delivery as MessageView['delivery'], inReplyTo: r.in_reply_to ?? null, createdAt: iso(r.created_at)!,
      }), (r) => `${newest ? '<' : ''}${String(r.place)}`);
    },
    async knights(page) {
      const after = decodeCursor(page.cursor);
      let q = db.selectFrom('knights').selectAll().orderBy('created_position', 'desc').limit(page.limit + 1);
      if (after !== undefined) q = q.where('created_position', '<', after);
      return pageOf(await run(q.compile()), page.limit, (r) => knightView(r, reveal), (r) => r.created_position);
    },
    async knight(id) {
      const [r] = await run(db.selectFrom('knights').selectAll().where('knight_id', '=', id).compile());
      return r ? knightView(r, reveal) : undefined;
    },
    async usage(day) {
      // one round trip: three scalar subqueries, each under the same row-level security
      const [row] = await run(db.selectNoFrom((eb) => usageColumns(eb, day)).compile());
      return usageOf(row);
    },
    async overview(day, knightLimit) {
      // one round trip: the tier, the usage subqueries and the newest knights as one JSON array
      const [row] = await run(
        db
          .selectNoFrom((eb) => [
            eb.selectFrom('tenants').select('tier').as('tier'),
            ...usageColumns(eb, day),
            eb
              .selectFrom(eb.selectFrom('knights').selectAll().orderBy('created_position', 'desc').limit(knightLimit).as('k'))
              .select(sql<Tables['knights'][]>`coalesce(json_agg(k), '[]'::json)`.as('j'))
              .as('knights'),
          ])
          .compile(),
      );
      return {
        tier: (row?.tier ?? undefined) as TenantView['tier'] | undefined,
        usage: usageOf(row),
        knights: (row?.knights ?? []).map((r) => knightView(r, reveal)),
      };
    },
  };
};
