import { TelegramError } from 'telegraf';
import type { AppError } from '../../domain/shared/errors.ts';
import { channelError, withoutSecrets } from '../channels/errors.ts';

/** Socket errors that mean the request never reached the Bot API, so nothing can have been sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const fromBotApi = (error: TelegramError, method: string, secrets: readonly string[]): AppError => {
  const status = error.code;
  const said = withoutSecrets(`${status} ${error.description ?? ''}`.trim(), secrets);
  const platformCode = status;
  if (status === 429) {
    const retryAfterMs = Math.max(1, error.parameters?.retry_after ?? 1) * 1000;
    return channelError('telegram_rate_limited', `Telegram limited ${method} (${said})`, {
      channel: 'telegram',
      retryable: true,
      retryAfterMs,
      platformCode,
    });
  }
  if (status >= 500) return channelError('telegram_unavailable', `Telegram failed ${method} (${said})`, { channel: 'telegram', retryable: true, platformCode });
  if (status === 401 || status === 404)
    return channelError('telegram_token_rejected', `Telegram rejected the bot token (${said})`, { channel: 'telegram', retryable: false, platformCode });
  if (status === 403)
    return channelError('telegram_chat_forbidden', `Telegram refused ${method} to this chat (${said})`, { channel: 'telegram', retryable: false, platformCode });
  const migrateTo = error.parameters?.migrate_to_chat_id;
  if (migrateTo !== undefined)
    return channelError('telegram_chat_migrated', `the chat moved to ${migrateTo} (${said})`, {
      channel: 'telegram',
      retryable: false,
      platformCode,
      migrateToChatId: String(migrateTo),
    });
  return channelError('telegram_request_rejected', `Telegram rejected ${method} (${said})`, { channel: 'telegram', retryable: false, platformCode });
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
    return channelError('telegram_timeout', `Telegram did not answer ${method} in time`, { channel: 'telegram', retryable: true, maybeDelivered: true });
  if (code !== undefined && NOT_SENT.has(code))
    return channelError('telegram_unavailable', `Telegram could not be reached for ${method} (${code})`, { channel: 'telegram', retryable: true });
  const what = withoutSecrets(code ?? type ?? name ?? 'unknown error', secrets);
  return channelError('telegram_unavailable', `${method} to Telegram failed without an answer (${what})`, {
    channel: 'telegram',
    retryable: true,
    maybeDelivered: true,
  });
};
