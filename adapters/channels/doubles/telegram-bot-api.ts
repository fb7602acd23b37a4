import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { postRaw, readBody, sendJson, startLoopback } from './loopback.ts';
import type { Delivery } from './loopback.ts';
import { botApiMethods, fail } from './telegram-bot-methods.ts';
import type { BotState, Webhook } from './telegram-bot-methods.ts';
import { telegramUpdates, telegramUser } from './telegram-updates.ts';

/**
 * A Telegram Bot API double on loopback (reference/telegram.md): `/bot<token>/<method>` for getMe,
 * setWebhook, deleteWebhook, getWebhookInfo and sendMessage, answering `{ok, result}` or
 * `{ok: false, error_code, description, parameters}` like Telegram. It knows which tokens are valid,
 * records every call and sent message, fails calls on demand (429 with retry_after, 5xx, a hang, any
 * Bot API error), and delivers updates to a bot's webhook with its secret header. No test framework
 * inside, so the embedded default can run one too.
 */
export type FakeBot = { readonly token: string; readonly id: number; readonly username: string; readonly firstName: string };
export type TelegramCall = { readonly method: string; readonly token: string; readonly payload: Record<string, unknown>; status: number | null };
export type SentTelegramMessage = {
  readonly token: string;
  readonly chatId: string;
  readonly messageId: number;
  readonly text: string;
  readonly replyToMessageId: number | null;
};
export type TelegramFailure =
  | { readonly type: 'rate_limit'; readonly retryAfter: number }
  | { readonly type: 'server_error'; readonly status?: number }
  /** No answer at all; with `afterProcessing` the call takes effect first (a message is sent, its answer lost). */
  | { readonly type: 'timeout'; readonly afterProcessing?: boolean }
  /** The call takes effect at once; its answer leaves `ms` later (a slow network on the way back). */
  | { readonly type: 'slow'; readonly ms: number }
  | { readonly type: 'error'; readonly errorCode: number; readonly description: string; readonly parameters?: Record<string, unknown> };
type Scheduled = { failure: TelegramFailure; method: string | undefined; token: string | undefined; skip: number; remaining: number };

const PATH = /^\/bot([^/]+)\/([A-Za-z]+)$/;
const SAY_PATH = /^\/_double\/bot([^/]+)\/say$/;
const SENT_PATH = /^\/_double\/bot([^/]+)\/sent$/;

export const startTelegramDouble = async (options: { chatIntervalMs?: number } = {}) => {
  const bots = new Map<string, BotState>();
  const calls: TelegramCall[] = [];
  const scheduled: Scheduled[] = [];
  const { sent, blocked, perform } = botApiMethods(options);
  let nextBotId = 7_000_000_100;
  const users = telegramUpdates({ firstUpdateId: 1 });

  const takeFailure = (method: string, token: string): TelegramFailure | null => {
    const i = scheduled.findIndex((s) => (s.method === undefined || s.method === method) && (s.token === undefined || s.token === token));
    if (i < 0) return null;
    const s = scheduled[i]!;
    if (s.skip > 0) return (s.skip--, null);
    if (--s.remaining === 0) scheduled.splice(i, 1);
    return s.failure;
  };

  const answerFailure = (res: http.ServerResponse, failure: TelegramFailure, call: TelegramCall, bot: BotState, method: string) => {
    const reply = (r: { status: number; body: unknown }) => ((call.status = r.status), sendJson(res, r.status, r.body));
    if (failure.type === 'rate_limit') return reply(fail(429, `Too Many Requests: retry after ${failure.retryAfter}`, { retry_after: failure.retryAfter }));
    if (failure.type === 'server_error') return reply(fail(failure.status ?? 502, 'Bad Gateway'));
    if (failure.type === 'error') return reply(fail(failure.errorCode, failure.description, failure.parameters));
    if (failure.type === 'slow') {
      const result = perform(bot, method, call.payload);
      return void setTimeout(() => reply(result), failure.ms);
    }
    if (failure.afterProcessing) perform(bot, method, call.payload);
    loopback.hold(res);
  };

  const loopback = await startLoopback(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://double').pathname;
    const raw = await readBody(req);
    const say = SAY_PATH.exec(path);
    if (say && req.method === 'POST') return userSaysOverHttp(res, say[1]!, raw);
    const seen = SENT_PATH.exec(path);
    if (seen && req.method === 'GET') return sendJson(res, 200, { ok: true, result: sent.filter((m) => m.token === seen[1]) });
    const match = PATH.exec(path);
    if (req.method !== 'POST' && req.method !== 'GET') return sendJson(res, 405, fail(405, 'Method Not Allowed').body);
    if (!match) return sendJson(res, 404, fail(404, 'Not Found').body);
    const [, token, method] = match as unknown as [string, string, string];
    let payload: Record<string, unknown> = {};
    try {
      if (raw.length > 0) payload = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, fail(400, "Bad Request: can't parse JSON").body);
    }
    const call: TelegramCall = { method, token, payload, status: null };
    calls.push(call);
    const bot = bots.get(token);
    if (!bot) return ((call.status = 401), sendJson(res, 401, fail(401, 'Unauthorized').body));
    const failure = takeFailure(method, token);
    if (failure) return answerFailure(res, failure, call, bot, method);
    const result = perform(bot, method, payload);
    call.status = result.status;
    sendJson(res, result.status, result.body);
  });

  const botOf = (token: string) => {
    const bot = bots.get(token);
    if (!bot) throw new Error('the double knows no bot with this token');
    return bot;
  };

  /**
   * Delivers an update to the bot's webhook as Telegram does: POST with the secret header. A non-2xx
   * answer counts as a pending update with its error, as getWebhookInfo shows it.
   */
  const deliver = async (token: string, update: object): Promise<Delivery> => {
    const bot = botOf(token);
    if (!bot.webhook) throw new Error('the bot has no webhook set');
    const delivery = await deliverTelegramUpdate(bot.webhook.url, update, bot.webhook.secretToken);
    if (delivery.status >= 200 && delivery.status < 300) return delivery;
    bot.pendingUpdateCount++;
    bot.lastError = { date: Math.floor(Date.now() / 1000), message: `Wrong response from the webhook: ${delivery.status}` };
    return delivery;
  };

  /** `POST /_double/bot<token>/say {"chatId": 42, "text": "hi"}`: a user writes to the bot (for the embedded default, by curl). */
  const userSaysOverHttp = async (res: http.ServerResponse, token: string, raw: Buffer) => {
    let said: { chatId?: unknown; text?: unknown } = {};
    try {
      said = JSON.parse(raw.toString('utf8')) as typeof said;
    } catch {
      return sendJson(res, 400, { ok: false, description: 'expected {"chatId": <number>, "text": "…"}' });
    }
    if (!bots.has(token) || typeof said.chatId !== 'number' || typeof said.text !== 'string')
      return sendJson(res, 400, { ok: false, description: 'expected a known bot token and {"chatId": <number>, "text": "…"}' });
    const bot = bots.get(token)!;
    if (!bot.webhook) return sendJson(res, 409, { ok: false, description: 'the bot has no webhook: connect it first' });
    const delivery = await deliver(token, users.text({ chatId: said.chatId, from: telegramUser(said.chatId), text: said.text }));
    sendJson(res, 200, { ok: true, webhookStatus: delivery.status });
  };

  return {
    /** The `apiRoot` for telegraf (TELEGRAM_API_ROOT). */
    apiRoot: `${loopback.url}/`,
    /** Registers a bot whose token is valid from now on; a token is generated unless given. */
    addBot(bot: Partial<FakeBot> = {}): FakeBot {
      const id = bot.id ?? nextBotId++;
      const state: BotState = {
        token: bot.token ?? `${id}:${randomBytes(26).toString('base64url')}`,
        id,
        username: bot.username ?? `tenant_${id}_bot`,
        firstName: bot.firstName ?? 'Tenant bot',
        webhook: null,
        pendingUpdateCount: 0,
        lastError: null,
      };
      bots.set(state.token, state);
      return { token: state.token, id: state.id, username: state.username, firstName: state.firstName };
    },
    /** The token stops working (BotFather /revoke): every call with it is 401. */
    revokeToken(token: string): void {
      bots.delete(token);
    },
    /** The user of `chatId` blocked the bot: sendMessage there is 403. */
    blockChat(token: string, chatId: string | number): void {
      blocked.add(`${token}\u0000${chatId}`);
    },
    /** After `skip` calls matching `method`/`token` (any when omitted) go through, the next `times` fail this way. */
    failNext(failure: TelegramFailure, match: { method?: string; token?: string; times?: number; skip?: number } = {}): void {
      scheduled.push({ failure, method: match.method, token: match.token, skip: match.skip ?? 0, remaining: match.times ?? 1 });
    },
    calls: calls as readonly TelegramCall[],
    callsOf: (method: string, token?: string) => calls.filter((c) => c.method === method && (token === undefined || c.token === token)),
    sent: (token?: string) => sent.filter((m) => token === undefined || m.token === token),
    webhookOf: (token: string): Readonly<Webhook> | null => botOf(token).webhook,

    deliver,
    /** A user writes `text` to the bot from a private chat (its id is the user's): delivered to the bot's webhook. */
    userSays: (token: string, user: { chatId: number; text: string; firstName?: string }): Promise<Delivery> =>
      deliver(token, users.text({ chatId: user.chatId, from: telegramUser(user.chatId, user.firstName), text: user.text })),
    close: () => loopback.close(),
  };
};

export type TelegramDouble = Awaited<ReturnType<typeof startTelegramDouble>>;

/** POSTs an update to any webhook URL with the given secret header (none when null): for forged and missing secrets. */
export const deliverTelegramUpdate = (url: string, update: object, secretToken: string | null): Promise<Delivery> =>
  postRaw(url, JSON.stringify(update), secretToken === null ? {} : { 'x-telegram-bot-api-secret-token': secretToken });
