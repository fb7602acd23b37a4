/**
 * Client errors → the port's typed errors. The client's CommandErrors carry a string `type`
 * (ErrorType); branch on it rather than on `instanceof`, which breaks with two copies of the package.
 */
import { ErrorType } from '@eventstore/db-client';
import { invalidAppend, storeUnavailable, wrongExpectedRevision } from '../../../domain/ports/event-store.ts';
import type { ExpectedRevision } from '../../../domain/ports/event-store.ts';
import { isAppError } from '../../../domain/shared/errors.ts';
import type { AppError } from '../../../domain/shared/errors.ts';
import { toActualRevision } from './mapping.ts';

export const esdbErrorType = (error: unknown): string | undefined => {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
};

/** Failures of the connection (or of the node we talk to), worth retrying: nothing was refused. */
const TRANSIENT_TYPES = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
  ErrorType.NOT_LEADER,
]);
const GRPC_TRANSIENT_CODES = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 10 /* ABORTED */, 14 /* UNAVAILABLE */]);
const TRANSIENT_MESSAGE =
  /Failed to discover|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|socket hang up|No connection established|Premature close|write after end/i;

export const isTransientEsdbError = (error: unknown): boolean => {
  if (isAppError(error)) return false;
  const type = esdbErrorType(error);
  if (type !== undefined) return TRANSIENT_TYPES.has(type);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && GRPC_TRANSIENT_CODES.has(code)) return true;
  return TRANSIENT_MESSAGE.test(error instanceof Error ? error.message : String(error));
};

export const isNotLeader = (error: unknown): boolean => esdbErrorType(error) === ErrorType.NOT_LEADER;
export const isWrongExpectedVersion = (error: unknown): boolean => esdbErrorType(error) === ErrorType.WRONG_EXPECTED_VERSION;
/** Reading a stream that does not exist (or was deleted) is an empty read. */
export const isMissingStream = (error: unknown): boolean => {
  const type = esdbErrorType(error);
  return type === ErrorType.STREAM_NOT_FOUND || type === ErrorType.STREAM_DELETED;
};

/** WrongExpectedVersionError → wrong_expected_revision with the server's actual revision. */
export const toConflict = (streamId: string, expected: ExpectedRevision, error: unknown): AppError =>
  wrongExpectedRevision(streamId, expected, toActualRevision((error as { actualVersion?: unknown }).actualVersion));

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 300);

/**
 * Any other failure from the client → a typed port error. AppErrors and errors that are neither the
 * server's nor the connection's (bugs) pass through unchanged.
 */
export const toStoreError = (error: unknown, context: string): unknown => {
  if (isAppError(error)) return error;
  const type = esdbErrorType(error);
  if (type === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED) return invalidAppend(`${context}: the append is larger than the server accepts`);
  if (type === ErrorType.STREAM_DELETED) return invalidAppend(`${context}: the stream was deleted`);
  if (type === ErrorType.ACCESS_DENIED) return storeUnavailable(`${context}: EventStoreDB denied access (check the credentials)`);
  if (type === ErrorType.UNKNOWN || isTransientEsdbError(error))
    return storeUnavailable(`${context}: EventStoreDB unavailable (${type ?? 'connection'}): ${messageOf(error)}`);
  return error;
};

/** Backoff for retries and resubscriptions: 100 ms doubling, capped. */
export const backoffMs = (attempt: number, capMs = 5_000): number => Math.min(100 * 2 ** Math.max(0, attempt), capMs);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `work`, retrying transient failures (a not-leader answer at once: the client has switched
 * to the leader for the next call). Then maps the failure with `toStoreError`.
 */
export const withRetries = async <T>(context: string, work: () => Promise<T>, attempts = 3): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt + 1 >= attempts || !isTransientEsdbError(error)) throw toStoreError(error, context);
      if (!isNotLeader(error)) await sleep(backoffMs(attempt));
    }
  }
};
