import type http from 'node:http';
import type https from 'node:https';
import { z } from 'zod';
import { requestJson } from '../channels/http-json.ts';
import type { JsonAnswer } from '../channels/http-json.ts';
import { channelFailures } from '../channels/errors.ts';
import { createPacer, systemClock } from '../channels/pacer.ts';
import type { Clock } from '../channels/pacer.ts';
import { DEFAULT_RETRY_POLICY, sendTextInParts } from '../channels/send-parts.ts';
import type { RetryPolicy, SendTextOptions, SentText } from '../channels/send-parts.ts';
import { MAX_MESSAGE_CHARS } from '../channels/split-text.ts';
import { GRAPH_CODES, whatsappFailure, whatsappTransportFailure } from './errors.ts';
import { customerServiceWindow, outsideWindowError } from './window.ts';

/** A tenant's number as the caller holds it: the access token is decrypted for the call and kept nowhere. */
export type WhatsAppCredentials = { readonly phoneNumberId: string; readonly accessToken: string };
export type WhatsAppNumberInfo = {
  readonly phoneNumberId: string;
  readonly displayPhoneNumber: string;
  readonly verifiedName: string | null;
};

export type WhatsAppSenderOptions = {
  readonly graphUrl: string;
  readonly apiVersion: string;
  readonly timeoutMs?: number;
  readonly userIntervalMs?: number;
  /** Across all users of one number (Meta: about 80 a second). */
  readonly numberMessagesPerSecond?: number;
  readonly retry?: RetryPolicy;
  readonly clock?: Clock;
  /** The HTTP agents of the calls (the bots worker's journaled ones, send-journal.ts); Node's global ones otherwise. */
  readonly agents?: { readonly http: http.Agent; readonly https: https.Agent };
};

/** Both ids go into the URL path or a request body, so they are checked to be digits first. */
const PHONE_NUMBER_ID = /^\d{1,30}$/;
const WA_ID = /^\d{5,20}$/;

const { retryable, permanent } = channelFailures('whatsapp');

const sentMessage = z.object({ messages: z.array(z.object({ id: z.string().min(1) })).min(1) });
const numberInfo = z.object({ id: z.string().optional(), display_phone_number: z.string(), verified_name: z.string().optional() });

/**
 * The WhatsApp Cloud API's messages endpoint for every tenant's number. Free-form texts only, and only
 * inside the 24-hour customer-service window; paced per user (Meta's pair limit) and per number,
 * retried after a short rate limit, split when longer than 4096.
 */
export const createWhatsAppSender = (options: WhatsAppSenderOptions) => {
  const { graphUrl, apiVersion, timeoutMs = 10_000, userIntervalMs = 6_000, numberMessagesPerSecond = 80 } = options;
  const clock = options.clock ?? systemClock;
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  const userPacer = createPacer({ intervalMs: userIntervalMs, clock });
  const numberPacer = createPacer({ intervalMs: Math.ceil(1000 / numberMessagesPerSecond), clock });

  const checked = ({ phoneNumberId }: WhatsAppCredentials) => {
    if (!PHONE_NUMBER_ID.test(phoneNumberId))
      throw permanent('whatsapp_phone_number_id_malformed', 'a phone number id is the digits Meta shows for the number');
    return `${graphUrl}/${apiVersion}/${phoneNumberId}`;
  };

  const graph = async (credentials: WhatsAppCredentials, url: string, body?: unknown) => {
    const authorization = `Bearer ${credentials.accessToken}`;
    let answer: JsonAnswer;
    try {
      answer = await requestJson(url, {
        timeoutMs,
        agents: options.agents,
        ...(body === undefined
          ? { method: 'GET', headers: { authorization } }
          : { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw whatsappTransportFailure(error, [credentials.accessToken]);
    }
    if (answer.status < 200 || answer.status > 299)
      throw whatsappFailure(answer.status, answer.body, { secrets: [credentials.accessToken], pairIntervalMs: userIntervalMs });
    return answer.body;
  };

  const answerMismatch = () => retryable('whatsapp_unavailable', 'WhatsApp answered without the expected fields', { maybeDelivered: true });

  return {
    /** Validates a number and its token: what Graph knows of the number, or `whatsapp_token_rejected` / `whatsapp_request_rejected`. */
    async describeNumber(credentials: WhatsAppCredentials): Promise<WhatsAppNumberInfo> {
      const parsed = numberInfo.safeParse(await graph(credentials, `${checked(credentials)}?fields=display_phone_number,verified_name`));
      if (!parsed.success) throw answerMismatch();
      const { display_phone_number: displayPhoneNumber, verified_name: verifiedName } = parsed.data;
      return { phoneNumberId: credentials.phoneNumberId, displayPhoneNumber, verifiedName: verifiedName ?? null };
    },

    /**
     * Sends a free-form text to `to` (a wa_id) if the user's last message (`lastInboundAt`) is less than
     * 24 hours old, else fails for good with `whatsapp_outside_window` before any request. The first part
     * quotes `replyToMessageId` (a wamid) when given. Resolves to the wamid of each part.
     */
    async sendText(
      credentials: WhatsAppCredentials,
      to: string,
      text: string,
      options: SendTextOptions & { lastInboundAt: Date | null; replyToMessageId?: string },
    ): Promise<SentText> {
      const url = `${checked(credentials)}/messages`;
      if (!WA_ID.test(to)) throw permanent('whatsapp_recipient_malformed', 'a WhatsApp recipient is a wa_id of digits');
      const verdict = customerServiceWindow(options.lastInboundAt, new Date(clock.now()));
      if (!verdict.open) throw outsideWindowError(verdict);
      const userKey = `${credentials.phoneNumberId}\u0000${to}`;
      return sendTextInParts({
        channel: 'whatsapp',
        text,
        maxChars: MAX_MESSAGE_CHARS,
        options,
        retry,
        clock,
        pace: async () => {
          await userPacer.wait(userKey);
          await numberPacer.wait(credentials.phoneNumberId);
        },
        holdFor: (failure) => {
          const until = clock.now() + (failure.retryAfterMs ?? 0);
          if (failure.platformCode === GRAPH_CODES.pairRateLimit) userPacer.holdUntil(userKey, until);
          else numberPacer.holdUntil(credentials.phoneNumberId, until);
        },
        sendPart: async (part, index) => {
          const quote = index === 0 && options.replyToMessageId !== undefined ? { context: { message_id: options.replyToMessageId } } : {};
          const text = { preview_url: false, body: part };
          const body = { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text, ...quote };
          const parsed = sentMessage.safeParse(await graph(credentials, url, body));
          if (!parsed.success) throw answerMismatch();
          return parsed.data.messages[0]!.id;
        },
      });
    },
  };
};

export type WhatsAppSender = ReturnType<typeof createWhatsAppSender>;
