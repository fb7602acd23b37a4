import { isAppError } from '../../domain/shared/errors.ts';
import { channelError, channelFailureOf, withFailureFacts } from './errors.ts';
import type { ChannelFailure, ChannelName } from './errors.ts';
import type { Clock } from './pacer.ts';
import { splitText } from './split-text.ts';

/** One platform message id per part sent, in order. */
export type SentText = { readonly externalMessageIds: readonly string[] };

export type SendTextOptions = {
  /** Resume a split text after a failure: the `deliveredParts` of that failure. */
  readonly fromPart?: number;
  /**
   * Called for each part once its pacing wait is over, right before its request: the moment to record
   * that the part is about to go (the delivery's outbox), so the record precedes the send by as little as possible.
   */
  readonly beforePart?: (index: number) => Promise<void>;
};

/** How many times one part is tried when the platform answers "too fast, retry after…", and how long it may wait. */
export type RetryPolicy = { readonly maxAttempts: number; readonly maxRetryWaitMs: number };

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, maxRetryWaitMs: 30_000 };

type PartsPlan = {
  readonly channel: ChannelName;
  readonly text: string;
  readonly maxChars: number;
  readonly options: SendTextOptions;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
  /** Waits for the pacers: once per part, so a retried part does not take a second slot. */
  pace(): Promise<void>;
  /** Holds the pacers a rate limit names (retry_after), so other messages wait too. */
  holdFor(failure: ChannelFailure): void;
  /** Sends one part; resolves to the platform's message id. */
  sendPart(text: string, index: number): Promise<string>;
};

const shouldRetry = (failure: ChannelFailure | null, attempt: number, retry: RetryPolicy): failure is ChannelFailure =>
  failure !== null &&
  failure.retryable &&
  failure.maybeDelivered !== true &&
  failure.retryAfterMs !== undefined &&
  failure.retryAfterMs <= retry.maxRetryWaitMs &&
  attempt < retry.maxAttempts;

/**
 * Splits the text and sends its parts in order, each paced and retried after a rate limit when the wait
 * is short enough. A failure carries `deliveredParts` (parts that went, counted from the first part), so
 * the caller can resume with `fromPart` instead of sending the first parts twice.
 */
export const sendTextInParts = async (plan: PartsPlan): Promise<SentText> => {
  const parts = splitText(plan.text, plan.maxChars);
  if (parts.length === 0)
    throw channelError('message_empty', 'the message has no text to send', { channel: plan.channel, retryable: false });
  const ids: string[] = [];
  for (let index = plan.options.fromPart ?? 0; index < parts.length; index++) {
    await plan.pace();
    await plan.options.beforePart?.(index);
    for (let attempt = 1; ; attempt++) {
      try {
        ids.push(await plan.sendPart(parts[index]!, index));
        break;
      } catch (error) {
        const failure = channelFailureOf(error);
        if (shouldRetry(failure, attempt, plan.retry)) {
          plan.holdFor(failure);
          await plan.clock.sleep(failure.retryAfterMs!);
          continue;
        }
        throw isAppError(error) ? withFailureFacts(error, { deliveredParts: index, externalMessageIds: ids }) : error;
      }
    }
  }
  return { externalMessageIds: ids };
};
