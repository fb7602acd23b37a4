import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';
import { startTelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import type { TelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { startWhatsAppDouble } from '../doubles/whatsapp-graph.ts';
import type { WhatsAppDouble } from '../doubles/whatsapp-graph.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client, Reply } from '../http/support/client.ts';
import { newTenant, tokenFor } from '../http/support/journey.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

export interface BotsHarness {
  readonly stack: Stack;
  readonly telegram: TelegramDouble;
  readonly whatsapp: WhatsAppDouble;
  /** Every log line the stack wrote (debug and up). */
  readonly logs: string[];
  /** What another process needs to work on the same storage (the delivery worker as a child). */
  readonly storageEnv: Record<string, string>;
  close(): Promise<void>;
}

/** The platform on PostgreSQL with the bot delivery in process, Telegram and WhatsApp doubles on loopback, and a log kept in memory. */
export const startBotsHarness = async (
  options: { bots?: boolean; /** over the harness's own env (e.g. a TELEGRAM_API_ROOT in front of the double) */ env?: (doubles: { telegram: TelegramDouble }) => Record<string, string> } = {},
): Promise<BotsHarness> => {
  const telegram = await startTelegramDouble({ chatIntervalMs: 0 });
  const whatsapp = await startWhatsAppDouble({ enforceWindow: true });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) }));
  const schemas = { events: uniqueSchema('bots_ev'), readModels: uniqueSchema('bots_rm') };
  const encryptionKey = randomBytes(32).toString('base64');
  const stack = await startStack({
    databaseUrl: TEST_DATABASE_URL,
    schemas,
    log,
    env: {
      JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long',
      ENCRYPTION_KEY: encryptionKey,
      TIER_REQUESTS_PER_MINUTE: 'free=100000,pro=100000,enterprise=100000',
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_CHAT_INTERVAL_MS: '0',
      WHATSAPP_GRAPH_URL: whatsapp.graphUrl,
      WHATSAPP_USER_INTERVAL_MS: '0',
      ...options.env?.({ telegram }),
    },
    poolSize: 6,
    bots: options.bots ?? true,
  });
  return {
    stack,
    telegram,
    whatsapp,
    logs,
    storageEnv: {
      DATABASE_URL: TEST_DATABASE_URL,
      EVENT_STORE: 'postgres',
      EVENT_STORE_SCHEMA: schemas.events,
      READ_MODEL_SCHEMA: schemas.readModels,
      ENCRYPTION_KEY: encryptionKey,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_CHAT_INTERVAL_MS: '0',
      WHATSAPP_GRAPH_URL: whatsapp.graphUrl,
      WHATSAPP_USER_INTERVAL_MS: '0',
    },
    async close() {
      await stack.close();
      await telegram.close();
      await whatsapp.close();
      await dropSchema(schemas.events);
      await dropSchema(schemas.readModels);
    },
  };
};

/** A tenant on the enterprise tier (no daily quota in the way) and its API client. */
export const tenantClient = async (h: BotsHarness): Promise<{ tenantId: string; me: Client }> => {
  const { tenantId, key } = await newTenant(client(h.stack.baseUrl, h.stack.operatorKey), 'enterprise');
  return { tenantId, me: client(h.stack.baseUrl, await tokenFor(h.stack.baseUrl, key)) };
};

/** Keeps every API answer's body, to search for secrets afterwards. */
/** A number of the WhatsApp double connected as `me`'s channel with `appSecret`: the number and the webhook URL Meta is given. */
export const connectWhatsApp = async (h: BotsHarness, me: Client, appSecret: string) => {
  const number = h.whatsapp.addNumber();
  const { webhookUrl } = ok(
    await me.post<{ webhookUrl: string }>('/channels/whatsapp', { phoneNumberId: number.phoneNumberId, accessToken: number.accessToken, appSecret, verifyToken: 'v' }),
    200,
  );
  return { number, webhookUrl };
};

export const answersKept = () => {
  const seen: string[] = [];
  return { seen, keep: <T>(reply: Reply<T>): Reply<T> => (seen.push(JSON.stringify(reply.body)), reply) };
};

export const waitFor = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

type ConversationPage = { items: { conversationId: string; channel: string; externalChatId: string | null }[]; next: string | null };

/**
 * The id of a bot chat's conversation, found as its tenant finds it: by channel and chat in the list
 * (the id itself is a pseudonym). Waits while the conversation is not in the read models yet.
 */
export const chatConversation = (me: Client, channel: 'telegram' | 'whatsapp', chatId: string | number): Promise<string> =>
  waitFor(`the conversation of ${channel} chat ${chatId}`, async () => {
    let cursor: string | null = null;
    do {
      const page: ConversationPage = ok(await me.get<ConversationPage>(`/conversations?limit=100${cursor ? `&cursor=${cursor}` : ''}`), 200);
      const found = page.items.find((c) => c.channel === channel && c.externalChatId === String(chatId));
      if (found) return found.conversationId;
      cursor = page.next;
    } while (cursor);
    return undefined;
  });

export type MessageRow = { messageId: string; role: string; text: string; delivery: string; seq: number };

/**
 * The whole history of a conversation through the API, page by page. With `minPosition`, as of that
 * log position: the API answers anyway after its read-your-writes wait (2 s), with X-Read-Model-Lag,
 * and a history from read models still behind it (a loaded machine) is not the one asked for, so it
 * is read again until they have reached it.
 */
export const history = async (me: Client, conversationId: string, minPosition?: string): Promise<MessageRow[]> => {
  const read = async () => {
    const all = await historyPages(me, conversationId, minPosition);
    if (all === 'behind') return undefined;
    if (all === undefined) throw new Error(`conversation ${conversationId} is not in the read models`);
    return all;
  };
  return waitFor(`the history of ${conversationId} as of position ${minPosition}`, read);
};

type HistoryPage = { items: MessageRow[]; next: string | null; code?: string };

/**
 * The history, or undefined while the conversation is not in the read models yet (404
 * conversation_not_found) or, with `minPosition`, while they are behind it (X-Read-Model-Lag): for a
 * poll after a write that gave no position to read it at (a webhook's), which must go on waiting
 * instead of failing while the projector catches up.
 */
export const historyIfAny = async (me: Client, conversationId: string, minPosition?: string): Promise<MessageRow[] | undefined> => {
  const all = await historyPages(me, conversationId, minPosition);
  return all === 'behind' ? undefined : all;
};

/** Every page of the history; 'behind' when an answer says the read models had not reached `minPosition`. */
const historyPages = async (me: Client, conversationId: string, minPosition?: string): Promise<MessageRow[] | 'behind' | undefined> => {
  const all: MessageRow[] = [];
  let cursor: string | null = null;
  do {
    const reply: Reply<HistoryPage> = await me.get<HistoryPage>(`/conversations/${conversationId}/messages?limit=50${minPosition ? `&minPosition=${minPosition}` : ''}${cursor ? `&cursor=${cursor}` : ''}`);
    if (minPosition && reply.headers.get('x-read-model-lag') !== null) return 'behind';
    if (reply.status === 404 && reply.body.code === 'conversation_not_found' && cursor === null) return undefined;
    const page: HistoryPage = ok(reply, 200);
    all.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return all;
};

/** Every row of every table in the schemas, as text: where a plaintext secret must not be. */
export const dumpSchemas = async (schemas: readonly string[]): Promise<string> => {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  try {
    const { rows: tables } = await db.query<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE'`,
      [schemas],
    );
    const parts: string[] = [];
    for (const t of tables) {
      const { rows } = await db.query(`SELECT t::text AS row FROM "${t.table_schema}"."${t.table_name}" t`);
      parts.push(...rows.map((r: { row: string }) => r.row));
    }
    if (tables.length < 5) throw new Error(`expected the platform's tables, found ${tables.length}`);
    return parts.join('\n');
  } finally {
    await db.end();
  }
};
