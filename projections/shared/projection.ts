import type { Decoded, EventType } from '../../domain/events.ts';

/**
 * A read model is data: its tables and its reducers. A reducer maps one event to the key of the
 * row it touches and folds the event into that row. The runner (adapters/projections) loads the
 * rows a batch touches, folds every event in order in memory, and writes each changed row once.
 */
export type Row = Record<string, unknown>;

export interface TableSpec {
  readonly name: string;
  /** column name → PostgreSQL type; every table has tenant_id text and version bigint too. */
  readonly columns: Readonly<Record<string, string>>;
  readonly primaryKey: readonly string[];
  /** Extra indexes: lists of columns (with optional DESC). */
  readonly indexes?: readonly (readonly string[])[];
}

export interface Reducer {
  readonly table: string;
  readonly handles: readonly EventType[];
  /** The primary key of the row this event touches, or undefined to ignore it. */
  readonly key: (event: Decoded) => Row | undefined;
  /**
   * The new row, null to delete it, or undefined to leave it as it is. Events arrive decoded in
   * `stored` mode: encrypted fields hold their ciphertext, which is what the row keeps.
   */
  readonly apply: (row: Row | undefined, event: Decoded) => Row | null | undefined;
  /** False when the event always creates its row: the runner then skips loading it. */
  readonly loadsRow?: (event: Decoded) => boolean;
}

export interface Projection {
  readonly name: string;
  readonly tables: readonly TableSpec[];
  readonly reducers: readonly Reducer[];
}

export const COMMON_COLUMNS = { tenant_id: 'text', version: 'bigint' } as const;

export const columnsOf = (table: TableSpec): Record<string, string> => ({ ...COMMON_COLUMNS, ...table.columns });
