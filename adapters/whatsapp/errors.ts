import type { AppError } from '../../domain/shared/errors.ts';
import { channelFailures, withoutSecrets } from '../channels/errors.ts';

const { retryable, permanent } = channelFailures('whatsapp');

/** Graph error codes with a meaning of their own for a sender (reference/whatsapp.md, Meta's error code list). */
export const GRAPH_CODES = {
  throughput: 130429, // about 80 messages/s per number
  pairRateLimit: 131056, // about 1 message per 6 s to one user
  outsideWindow: 131047, // more than 24 hours since the user's last message
  invalidToken: 190,
  appRateLimit: 4,
  accountRateLimit: 80007,
  unknownServerError: 1,
  serviceTemporarilyDown: 2,
  somethingWentWrong: 131000,
  serviceUnavailable: 131016,
} as const;

const RETRY_LATER = new Set<number>([
  GRAPH_CODES.unknownServerError,
  GRAPH_CODES.serviceTemporarilyDown,
  GRAPH_CODES.somethingWentWrong,
  GRAPH_CODES.serviceUnavailable,
]);

type GraphErrorBody = { error?: { message?: unknown; code?: unknown; error_subcode?: unknown } };

/**
 * A Graph answer that was not a success, as a typed channel error, classified by Graph's error code
 * first and the HTTP status second. `pairIntervalMs` is how long to wait after a pair rate limit
 * (Graph gives no retry-after). The message carries Graph's code and text, never the request.
 */
export const whatsappFailure = (status: number, body: unknown, options: { secrets: readonly string[]; pairIntervalMs: number }): AppError => {
  const error = (body as GraphErrorBody | null)?.error;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const text = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  const said = withoutSecrets(code === undefined ? text : `${code}: ${text}`, options.secrets);
  const platformCode = code ?? status;
  if (code === GRAPH_CODES.outsideWindow)
    return permanent('whatsapp_outside_window', `WhatsApp refused a free-form reply outside the 24-hour window (${said})`, { platformCode });
  if (code === GRAPH_CODES.pairRateLimit)
    return retryable('whatsapp_pair_rate_limited', `too many messages to this user (${said})`, {
      platformCode,
      retryAfterMs: options.pairIntervalMs,
    });
  if (code === GRAPH_CODES.throughput || status === 429)
    return retryable('whatsapp_rate_limited', `WhatsApp limited this number (${said})`, { platformCode, retryAfterMs: 1_000 });
  if (code === GRAPH_CODES.appRateLimit || code === GRAPH_CODES.accountRateLimit)
    return retryable('whatsapp_rate_limited', `WhatsApp limited the app or account (${said})`, { platformCode, retryAfterMs: 60_000 });
  if (code === GRAPH_CODES.invalidToken || status === 401 || status === 403)
    return permanent('whatsapp_token_rejected', `WhatsApp refused the access token (${said})`, { platformCode });
  if ((code !== undefined && RETRY_LATER.has(code)) || status >= 500)
    return retryable('whatsapp_unavailable', `WhatsApp failed (${said})`, { platformCode });
  return permanent('whatsapp_request_rejected', `WhatsApp rejected the request (${said})`, { platformCode });
};

/** Socket errors that mean the request never reached Graph, so nothing can have been sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A call that got no answer: fetch's own error (whose text may hold the URL) is summarised, never passed on. */
export const whatsappTransportFailure = (error: unknown, secrets: readonly string[]): AppError => {
  const { name, cause, code: own } = (error ?? {}) as { name?: string; cause?: { code?: string }; code?: string };
  if (name === 'AbortError' || name === 'TimeoutError')
    return retryable('whatsapp_timeout', 'WhatsApp did not answer in time', { maybeDelivered: true });
  const code = own ?? cause?.code;
  if (code !== undefined && NOT_SENT.has(code)) return retryable('whatsapp_unavailable', `WhatsApp could not be reached (${code})`);
  const what = withoutSecrets(code ?? name ?? 'unknown error', secrets);
  return retryable('whatsapp_unavailable', `the call to WhatsApp failed without an answer (${what})`, { maybeDelivered: true });
};
