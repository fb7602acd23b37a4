import { TelegramError } from 'telegraf';
import type { AppError } from '../../domain/shared/errors.ts';
import { channelFailures, withoutSecrets } from '../channels/errors.ts';

const { retryable, permanent } = channelFailures('telegram');

/** Socket errors that mean the request never reached the Bot API, so nothing can have been sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const fromBotApi = (error: TelegramError, method: string, secrets: readonly string[]): AppError => {
  const platformCode = error.code;
  const said = withoutSecrets(`${platformCode} ${error.description ?? ''}`.trim(), secrets);
  if (platformCode === 429) {
    const retryAfterMs = Math.max(1, error.parameters?.retry_after ?? 1) * 1000;
    return retryable('telegram_rate_limited', `Telegram limited ${method} (${said})`, { retryAfterMs, platformCode });
  }
  if (platformCode >= 500) return retryable('telegram_unavailable', `Telegram failed ${method} (${said})`, { platformCode });
  if (platformCode === 401 || platformCode === 404)
    return permanent('telegram_token_rejected', `Telegram rejected the bot token (${said})`, { platformCode });
  if (platformCode === 403) return permanent('telegram_chat_forbidden', `Telegram refused ${method} to this chat (${said})`, { platformCode });
  // the new chat's id is not repeated: errors reach the log, and a chat id is a user's personal data
  if (error.parameters?.migrate_to_chat_id !== undefined)
    return permanent('telegram_chat_migrated', `the chat moved to a supergroup (${said})`, { platformCode });
  return permanent('telegram_request_rejected', `Telegram rejected ${method} (${said})`, { platformCode });
};

/**
 * Any failure of a Bot API call as a typed channel error. The message is built here from the status,
 * Telegram's description and the socket error code only: telegraf's own errors carry the request URL
 * (with the token) and the request payload (with a webhook's secret_token), so they are never passed
 * on, not even as `cause`.
 */
export const telegramFailure = (error: unknown, method: string, secrets: readonly string[]): AppError => {
  if (error instanceof TelegramError) return fromBotApi(error, method, secrets);
  const { name, code, type } = (error ?? {}) as { name?: string; code?: string; type?: string };
  if (name === 'AbortError' || name === 'TimeoutError')
    return retryable('telegram_timeout', `Telegram did not answer ${method} in time`, { maybeDelivered: true });
  if (code !== undefined && NOT_SENT.has(code)) return retryable('telegram_unavailable', `Telegram could not be reached for ${method} (${code})`);
  const what = withoutSecrets(code ?? type ?? name ?? 'unknown error', secrets);
  return retryable('telegram_unavailable', `${method} to Telegram failed without an answer (${what})`, { maybeDelivered: true });
};
