/** What the shared SQL event store needs from a PostgreSQL connection: pg's Pool and PGlite both fit. */
export interface Querier {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Several statements, no parameters (migrations). */
  exec(text: string): Promise<unknown>;
}

export interface SqlDb extends Querier {
  /** BEGIN … fn … (beforeCommit) … COMMIT on one connection; ROLLBACK if anything throws. */
  /**
   * Runs `fn` in a transaction. `prelude`: SQL without parameters run right after BEGIN, in the same
   * round trip on PostgreSQL (a tenant's read sets its role and tenant this way: one round trip less).
   */
  transaction<T>(fn: (tx: Querier) => Promise<T>, beforeCommit?: () => Promise<void>, prelude?: string): Promise<T>;
  /**
   * A READ ONLY transaction (`prelude` as above) whose COMMIT is not waited for on PostgreSQL: the
   * connection goes back to the pool with the COMMIT queued first, so whoever takes it next runs after
   * it; a read-only COMMIT changes nothing and cannot fail but with its connection. One round trip less.
   */
  readTransaction<T>(fn: (tx: Querier) => Promise<T>, prelude?: string): Promise<T>;
  /**
   * Calls onNotify with its payload for every NOTIFY on the channel, and without one after a lost
   * listener came back (anything may have been missed meanwhile).
   */
  listen(channel: string, onNotify: (payload?: string) => void): Promise<{ close(): Promise<void> }>;
  /** How many append batches may be in flight at once (the pool size; 1 for PGlite). */
  readonly maxConcurrentBatches: number;
  close(): Promise<void>;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * The connection is lost, refused or closed, or the server refuses connections (SQLSTATE class 08,
 * 57 — shut down, cancelled —, 53300 too many): the database is out of reach, the statement not wrong.
 */
export const isConnectionLost = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && SQLSTATE.test(code)) return code.startsWith('08') || code.startsWith('57') || code === '53300';
  const message = error instanceof Error ? error.message : String(error);
  return /Connection terminated|connection (error|timeout)|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|ECONNREFUSED|ECONNRESET/i.test(message);
};

/** Connection-level failures of a database call: as isConnectionLost, and any system error (a code that is not a SQLSTATE). */
export const isUnavailableError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return isConnectionLost(error) || (typeof code === 'string' && !SQLSTATE.test(code));
};

export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
};

/**
 * A PostgreSQL string literal for text that must go into SQL without parameters (a transaction's
 * prelude): quotes doubled, and backslashes doubled in an E'' literal, whatever standard_conforming_strings says.
 */
export const sqlLiteral = (text: string): string => {
  if (text.includes('\0')) throw new Error('a SQL literal cannot contain NUL');
  const quoted = text.replaceAll("'", "''");
  return text.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
};
