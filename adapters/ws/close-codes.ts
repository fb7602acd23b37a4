/**
 * Close codes of `/ws/tenant/{id}` (docs/live.md). 4xxx mirror the HTTP status a request would get;
 * the standard ones keep their RFC 6455 meaning. The reason is `<code>: <message>`, at most 123 bytes.
 */
export const CLOSE = {
  /** The pusher stops (restart, deploy): reconnect with your last position. */
  restart: 1012,
  /** The pusher could not read or decode the log: reconnect with your last position, later. */
  internal: 1011,
  /** A frame that is not a JSON message this endpoint knows. */
  malformed: 1007,
  /** A binary frame. */
  unsupported: 1003,
  /** A frame over the size limit (set by `ws` itself: reason "Max payload size exceeded"). */
  tooBig: 1009,
  /** Malformed path or `after`. */
  badRequest: 4400,
  /** No credential, a forged or expired token, an unknown or revoked key: sign in again. */
  unauthorized: 4401,
  /** The operator's credential (it reads no tenant's events): never retried. */
  forbidden: 4403,
  /**
   * A tenant that is not the credential's: answered as if it did not exist, whether it exists or not
   * (the HTTP API's 404 `tenant_not_found`), so a socket cannot probe which tenant ids are taken.
   */
  notFound: 4404,
  /** The client did not read fast enough: its unsent data passed the bound. Reconnect with your last position. */
  slowConsumer: 4408,
  /** Too many: failed authentications from this address, or open sockets of this tenant. */
  tooManyFailures: 4429,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** A close reason within the 123 bytes a close frame allows. */
export const closeReason = (code: string, message: string): string => {
  const full = `${code}: ${message}`;
  const bytes = Buffer.from(full);
  return bytes.length <= 123 ? full : bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '…';
};

/** The close code for an authentication failure of the HTTP API (its status). */
export const closeCodeOfStatus = (status: number): CloseCode =>
  status === 401 ? CLOSE.unauthorized : status === 403 ? CLOSE.forbidden : status === 404 ? CLOSE.notFound : status === 429 ? CLOSE.tooManyFailures : status === 400 ? CLOSE.badRequest : CLOSE.internal;
