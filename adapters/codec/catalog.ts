import { z } from 'zod';
import type { DomainEvent } from '../../domain/shared/decider.ts';

/**
 * One category's events as zod schemas: what the codec validates on every read and write. A
 * spec per event type names its current schema, its encrypted fields, and the older stored
 * versions with the upcast that turns each into the next version's shape.
 */

/** An older stored version: its own schema and how it becomes the next version's shape. */
export interface OlderVersion {
  readonly upcast: (stored: unknown) => unknown;
}

export const olderVersion = <Old>(schema: z.ZodType<Old>, toNext: (old: Old) => unknown): OlderVersion => ({
  upcast: (stored) => toNext(schema.parse(stored)),
});

/** Fields that hold a string (or null): only those can be encrypted. */
type TextFieldOf<D> = { [F in keyof D]-?: D[F] extends string | null ? F : never }[keyof D] & string;

export interface EventSpec<D> {
  readonly schema: z.ZodType<D>;
  /** Personal data: encrypted in the log and the read models, shown to its tenant. */
  readonly personal?: readonly TextFieldOf<D>[];
  /** Credentials of third parties: encrypted, never shown, decrypted only for the component that uses them. */
  readonly secret?: readonly TextFieldOf<D>[];
  /**
   * One-way digests of credentials (API key, webhook secret, verify token and bridge token hashes): kept
   * as they are (the component that checks a credential compares against them) but never shown to a
   * person, so masked in `view` like a secret.
   */
  readonly hidden?: readonly TextFieldOf<D>[];
  /**
   * Older versions, oldest first; the current version is `older.length + 1`. Encrypted fields keep
   * their names across versions (the ciphertext is bound to the field's name).
   */
  readonly older?: readonly OlderVersion[];
}

export type CatalogSpec<E extends DomainEvent> = { readonly [T in E['type']]: EventSpec<Extract<E, { type: T }>['data']> };

export type Protection = 'personal' | 'secret';

export interface CatalogEntry {
  readonly type: string;
  readonly version: number;
  /** The name the current version is stored under: `Type` for version 1, `Type.v<n>` after. */
  readonly storedName: string;
  readonly protectedFields: ReadonlyMap<string, Protection>;
  /** Fields masked in `view`, stored in clear (EventSpec.hidden). */
  readonly hiddenFields: readonly string[];
}

export interface Catalog<E extends DomainEvent> {
  readonly category: string;
  entry(type: string): CatalogEntry | undefined;
  /** Splits a stored type name into the event type and its version; undefined for a type this catalog lacks. */
  resolve(storedType: string): { readonly entry: CatalogEntry; readonly version: number } | undefined;
  /** Validates stored data of a version and upcasts it to the current shape. Throws (zod) when invalid. */
  parse(entry: CatalogEntry, version: number, data: unknown): E;
  /** Validates an event about to be stored. Throws (zod) when invalid. */
  check(event: E): void;
}

const VERSIONED = /^(.+)\.v(\d{1,4})$/;

export const storedNameOf = (type: string, version: number): string => (version === 1 ? type : `${type}.v${version}`);

export const defineCatalog = <E extends DomainEvent>(category: string, specs: CatalogSpec<E>): Catalog<E> => {
  const entries = new Map<string, CatalogEntry & { readonly spec: EventSpec<unknown> }>();
  for (const [type, raw] of Object.entries(specs)) {
    const spec = raw as EventSpec<unknown>;
    const version = (spec.older?.length ?? 0) + 1;
    const protectedFields = new Map<string, Protection>([
      ...(spec.personal ?? []).map((f): [string, Protection] => [f, 'personal']),
      ...(spec.secret ?? []).map((f): [string, Protection] => [f, 'secret']),
    ]);
    entries.set(type, { type, version, storedName: storedNameOf(type, version), protectedFields, hiddenFields: spec.hidden ?? [], spec });
  }
  return {
    category,
    entry: (type) => entries.get(type),
    resolve(storedType) {
      const direct = entries.get(storedType);
      if (direct) return { entry: direct, version: 1 };
      const m = VERSIONED.exec(storedType);
      const entry = m ? entries.get(m[1]!) : undefined;
      const version = m ? Number(m[2]) : 0;
      return entry && version >= 2 ? { entry, version } : undefined;
    },
    parse(entry, version, data) {
      const { spec } = entries.get(entry.type)!;
      if (version > entry.version) throw new Error(`version ${version} is newer than this codec knows (${entry.version})`);
      let current = data;
      for (let v = version; v < entry.version; v++) current = spec.older![v - 1]!.upcast(current);
      // The one place an event is assembled from its type and data: the data was just validated
      // by the schema that the spec table declares for exactly this type.
      return { type: entry.type, data: spec.schema.parse(current) } as E;
    },
    check(event) {
      entries.get(event.type)!.spec.schema.parse(event.data);
    },
  };
};

/** An ISO-8601 instant as the clock writes it. */
export const instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, 'an ISO-8601 time');
