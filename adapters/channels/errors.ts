import { AppError, isAppError } from '../../domain/shared/errors.ts';

export type ChannelName = 'telegram' | 'whatsapp';

/**
 * What a failed call to a messaging platform means for whoever retries it. `retryable`: the same
 * request may succeed later (rate limit, outage); otherwise it never will (bad token, blocked bot,
 * closed window) and the message's delivery failed for good. `retryAfterMs`: the platform said when
 * (a rate limit); only such failures are retried inside the call. `maybeDelivered`: the request left
 * and no answer came back (timeout, reset), so the platform may have sent it: sending again may
 * duplicate. `deliveredParts`/`externalMessageIds`: parts of a split text that did go before it.
 */
export type ChannelFailure = {
  readonly channel: ChannelName;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly maybeDelivered?: boolean;
  readonly platformCode?: number;
  readonly deliveredParts?: number;
  readonly externalMessageIds?: readonly string[];
};

/**
 * A failure of a channel call as an AppError: retryable ones are `unavailable` (503 if it reaches
 * HTTP), permanent ones `validation` (400: e.g. a connect command with a token the platform refused).
 */
export const channelError = (code: string, message: string, failure: ChannelFailure): AppError =>
  new AppError(failure.retryable ? 'unavailable' : 'validation', code, message, { ...failure });

type Facts = Omit<ChannelFailure, 'channel' | 'retryable'>;

/** Error makers for one channel: `retryable(code, message, facts)` and `permanent(…)`. */
export const channelFailures = (channel: ChannelName) => ({
  retryable: (code: string, message: string, facts: Facts = {}) => channelError(code, message, { channel, retryable: true, ...facts }),
  permanent: (code: string, message: string, facts: Facts = {}) => channelError(code, message, { channel, retryable: false, ...facts }),
});

/** The channel facts of an error thrown by a sender, or null for any other error. */
export const channelFailureOf = (error: unknown): ChannelFailure | null => {
  if (!isAppError(error)) return null;
  const details = (error as AppError).details;
  return details && (details.channel === 'telegram' || details.channel === 'whatsapp') ? (details as ChannelFailure) : null;
};

/** The same error with more facts (e.g. the parts that went before it). */
export const withFailureFacts = (error: AppError, facts: Partial<ChannelFailure>): AppError =>
  new AppError(error.kind, error.code, error.message, { ...error.details, ...facts });

/** `text` with every occurrence of each secret replaced, for messages built from what a platform or a socket said. */
export const withoutSecrets = (text: string, secrets: readonly string[]): string =>
  secrets.reduce((out, secret) => (secret.length >= 4 ? out.split(secret).join('[redacted]') : out), text);
