import express from 'express';
import type { RequestHandler, Response, Router } from 'express';
import type { Logger } from 'pino';
import { receiveBotMessage, reportMessageStatus } from '../../commands/channels/inbound.ts';
import type { CommandPorts } from '../../commands/context.ts';
import { tenantDecider } from '../../domain/index.ts';
import type { LiveTenant } from '../../domain/tenant/state.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { TENANT_ID_PATTERN } from '../../domain/shared/ids.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { parseTelegramUpdate, TELEGRAM_SECRET_HEADER, telegramSecretMatches } from '../telegram/webhook.ts';
import { parseWhatsAppWebhook } from '../whatsapp/payload.ts';
import { answerVerification, WHATSAPP_SIGNATURE_HEADER, whatsappSignatureMatches } from '../whatsapp/webhook.ts';
import { BODY_LIMIT_BYTES } from './body.ts';
import { problem, problemMiddleware, renderError, sendProblem } from './problem.ts';
import type { Rendered } from './problem.ts';
import { countWebhooks, webhookOutcome } from '../telemetry/webhooks.ts';

/** A connected bot's secrets are read from the tenant's stream, at most this stale (a reconnect takes effect within it). */
const TENANT_MAX_AGE_MS = 1_000;

/**
 * The refusals a platform should retry (it keeps the update and sends it again later): a suspension
 * lifts, a daily quota resets, a stream that kept changing settles. Every other refusal of a bot
 * message is permanent and answered 200.
 */
const RETRY_LATER = new Set(['tenant_suspended', 'message_quota_exceeded', 'concurrency_conflict']);

/**
 * A Telegram message's ordering key within its chat: the message's date (seconds) first, then its
 * `update_id` (its low 21 bits) within the same second. `update_id` alone counts per bot, so it does
 * not order a chat whose bot was replaced (the same user's chat id under a new bot), and Telegram
 * restarts it at random after a week without updates; a chat's dates go on across both. Below 2^53
 * for dates before 2106.
 */
const telegramOrder = (date: number, updateId: number): number => date * 2 ** 21 + (updateId % 2 ** 21);

/** Slugs found to name no tenant, remembered this long (a new tenant's webhook is set after it exists) and this many. */
const UNKNOWN_MAX_AGE_MS = 1_000;
const MAX_UNKNOWN = 10_000;

export interface WebhookDeps {
  readonly ports: CommandPorts;
  readonly log: Logger;
  readonly bodyLimitBytes?: number;
  /**
   * Whether a slug names a tenant, from the read models (one indexed read), asked before the tenant's
   * stream is read: anyone can call a webhook with made-up slugs, and each would otherwise cost a store
   * read and a place in the command shell's state cache. Without it every slug is read from the store.
   */
  readonly tenantExists?: (tenantId: TenantId) => Promise<boolean>;
  readonly now?: () => number;
}

/** One answer for every request that is not the connected bot's, so a path tells nothing about its tenant. */
const forbidden = (res: Response) =>
  sendProblem(res, { problem: problem(403, 'webhook_forbidden', 'this webhook does not accept the request'), headers: {} });
const unsigned = (res: Response) =>
  sendProblem(res, { problem: problem(401, 'webhook_signature_invalid', 'the request is not signed by the connected app'), headers: {} });

/**
 * POST /webhooks/telegram/:slug and GET|POST /webhooks/whatsapp/:slug — no bearer token: each platform
 * proves itself with the secret the tenant's connection stored (Telegram's secret header, Meta's HMAC
 * of the raw body). The answer comes once the user's message is appended, and nothing else is done on
 * the way: the agent and the delivery work from the log.
 */
export const createWebhookRouter = (deps: WebhookDeps): Router => {
  const { ports, log } = deps;
  const router = express.Router({ caseSensitive: true });
  const raw = express.raw({ type: () => true, limit: deps.bodyLimitBytes ?? BODY_LIMIT_BYTES });

  const now = deps.now ?? Date.now;
  const unknown = new Map<string, number>(); // slug → until when it is taken to name no tenant
  const namesNoTenant = async (slug: TenantId): Promise<boolean> => {
    if (!deps.tenantExists) return false;
    const until = unknown.get(slug);
    if (until !== undefined && until > now()) return true;
    unknown.delete(slug);
    let exists: boolean;
    try {
      exists = await deps.tenantExists(slug);
    } catch (error) {
      log.debug({ err: error }, 'webhook: tenant check unavailable, reading the stream');
      return false;
    }
    if (exists) return false;
    if (unknown.size >= MAX_UNKNOWN) unknown.delete(unknown.keys().next().value!);
    unknown.set(slug, now() + UNKNOWN_MAX_AGE_MS);
    return true;
  };

  const liveTenant = async (slug: unknown): Promise<LiveTenant | undefined> => {
    if (typeof slug !== 'string' || !TENANT_ID_PATTERN.test(slug)) return undefined;
    if (await namesNoTenant(slug as TenantId)) return undefined;
    const { state } = await ports.shell.state(tenantDecider, tenantStream(slug as TenantId), TENANT_MAX_AGE_MS);
    return state.status === 'active' || state.status === 'suspended' ? state : undefined;
  };

  /**
   * The code of a permanent refusal (a closed conversation, …): answered 2xx, since a non-2xx would have
   * the platform retry it for days, in vain. Undefined for what the platform should retry (RETRY_LATER,
   * our own 5xx) and for errors that are not refusals.
   */
  const isPermanent = (rendered: Rendered): boolean => rendered.problem.status < 500 && !RETRY_LATER.has(rendered.problem.code);
  const permanentRefusal = (error: unknown): string | undefined => {
    const rendered = isAppError(error) ? renderError(error) : undefined;
    return rendered && isPermanent(rendered) ? rendered.problem.code : undefined;
  };

  /** A refusal the API would give (suspended tenant: 403, quota: 403) goes back as the same problem; the platform retries later. */
  const refused = (res: Response, error: unknown, channel: string) => {
    const rendered = isAppError(error) ? renderError(error) : undefined;
    if (!rendered) throw error;
    log.info({ channel, code: rendered.problem.code }, 'bot message refused');
    if (isPermanent(rendered)) {
      webhookOutcome(res, 'refused');
      res.status(200).json({ ok: true, handled: rendered.problem.code });
      return;
    }
    sendProblem(res, rendered);
  };

  const telegram: RequestHandler = async (req, res) => {
    const tenant = await liveTenant(req.params.slug);
    if (!tenant?.telegram || !telegramSecretMatches(req.headers[TELEGRAM_SECRET_HEADER], tenant.telegram.webhookSecretHash)) return forbidden(res);
    const update = parseTelegramUpdate(jsonOf(req.body));
    if (update.type !== 'text') {
      // photos, stickers, edits, button presses, blocks: nothing to post; Telegram must not retry them
      webhookOutcome(res, 'ignored');
      res.status(200).json({ ok: true, handled: update.type === 'ignored' ? update.reason : update.kind });
      return;
    }
    try {
      const r = await receiveBotMessage(ports, tenant.tenantId, {
        channel: 'telegram',
        chatId: update.chatId,
        userId: update.from ? String(update.from.id) : null,
        text: update.text,
        deliveryId: `${tenant.telegram.botId}-${update.updateId}`,
        platformMessageId: String(update.messageId),
        order: telegramOrder(update.date, update.updateId),
      });
      if (r.duplicate) webhookOutcome(res, 'duplicate');
      res.status(200).json({ ok: true, position: r.position });
    } catch (error) {
      refused(res, error, 'telegram');
    }
  };

  const whatsappHandshake: RequestHandler = async (req, res) => {
    const tenant = await liveTenant(req.params.slug);
    const answer = tenant?.whatsapp ? answerVerification(req.query as Record<string, unknown>, tenant.whatsapp.verifyTokenHash) : { status: 403 as const };
    if (answer.status !== 200) return forbidden(res);
    res.status(200).type('text/plain').send(answer.challenge);
  };

  const whatsapp: RequestHandler = async (req, res) => {
    const tenant = await liveTenant(req.params.slug);
    const number = tenant?.whatsapp;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!tenant || !number || !whatsappSignatureMatches(body, req.headers[WHATSAPP_SIGNATURE_HEADER], number.appSecret)) return unsigned(res);
    const payload = parseWhatsAppWebhook(jsonOf(body));
    if (payload.type === 'ignored') {
      webhookOutcome(res, 'ignored');
      res.status(200).json({ ok: true, handled: payload.reason });
      return;
    }
    // One POST may carry several messages and statuses. A permanent refusal is that item's alone: it is
    // skipped and the rest are recorded. A refusal to retry later (suspension, quota, a conflict) or our
    // own failure fails the whole request, so Meta sends the payload again; what was recorded before it
    // is deduplicated then (wamid keys).
    const refusals: { id: string; code: string }[] = [];
    const permanently = async (id: string, record: () => Promise<void>): Promise<void> => {
      try {
        await record();
      } catch (error) {
        const code = permanentRefusal(error);
        if (code === undefined) throw error;
        log.info({ channel: 'whatsapp', code }, 'bot message refused');
        refusals.push({ id, code });
      }
    };
    try {
      let posted = 0;
      for (const m of payload.messages) {
        if (m.phoneNumberId !== number.phoneNumberId || m.type !== 'text') continue;
        await permanently(m.id, async () => {
          await receiveBotMessage(ports, tenant.tenantId, {
            channel: 'whatsapp',
            chatId: m.from,
            userId: m.from,
            text: m.text,
            deliveryId: m.id,
            platformMessageId: m.id,
            order: m.timestamp,
          });
          posted++;
        });
      }
      let statuses = 0;
      for (const s of payload.statuses) {
        if (s.phoneNumberId !== number.phoneNumberId) continue;
        const errorCode = s.errors[0]?.code ?? null;
        await permanently(s.messageId, async () => {
          const r = await reportMessageStatus(ports, tenant.tenantId, { channel: 'whatsapp', chatId: s.recipientId, externalMessageId: s.messageId, status: s.status, errorCode });
          if (r) statuses++;
        });
      }
      if (posted === 0 && statuses === 0) webhookOutcome(res, refusals.length > 0 ? 'refused' : 'ignored');
      res.status(200).json({ ok: true, posted, statuses, refused: refusals });
    } catch (error) {
      refused(res, error, 'whatsapp');
    }
  };

  router.post('/webhooks/telegram/:slug', countWebhooks('telegram'), raw, telegram);
  router.get('/webhooks/whatsapp/:slug', whatsappHandshake);
  router.post('/webhooks/whatsapp/:slug', countWebhooks('whatsapp'), raw, whatsapp);
  router.use(problemMiddleware(log)); // 413 for a body over the limit; a failing store is a 5xx, so the platform retries
  return router;
};

/** A body as JSON, or undefined (the parsers turn that into an ignored update). */
const jsonOf = (body: unknown): unknown => {
  if (!Buffer.isBuffer(body)) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
};
