import { createHmac, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyService, TenantCipher } from '../../domain/ports/keys.ts';
import { AppError } from '../../domain/shared/errors.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import { migrateOnce } from '../event-store/sql/migrate.ts';
import { checkSchemaName } from '../event-store/sql/schema.ts';
import { decrypt, encrypt, openText, sealText } from './aead.ts';
import type { MasterKeys } from './master-keys.ts';

export interface SqlKeyServiceOptions {
  readonly db: SqlDb;
  /** Schema of the event log: the keys live beside it, in a table rows can be deleted from. */
  readonly schema: string;
  readonly master: MasterKeys;
  /** Tenants whose keys are held in memory (least recently used dropped first). */
  readonly cacheSize?: number;
  /** How long a key (or its absence) is trusted before it is read again: an erasure made by another process takes effect here within this. */
  readonly cacheMs?: number;
}

interface Row {
  master_key_id: string | null;
  wrapped: Buffer | null;
  erased: boolean;
}

const keysMigration = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.data_keys (
  tenant_id text PRIMARY KEY,
  master_key_id text,          -- null once erased
  wrapped bytea,               -- the data key under the master key; null once erased
  created_at timestamptz NOT NULL DEFAULT now(),
  erased_at timestamptz,
  CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
);`;

const wrapAad = (tenantId: string) => Buffer.from(`openclaw data key\0${tenantId}`);

export const masterKeyMissing = (ids: readonly string[]) =>
  new AppError(
    'unavailable',
    'master_key_missing',
    `data keys are wrapped by master key ${ids.join(', ')}, which is not configured: set ENCRYPTION_KEY (or add it to ENCRYPTION_PREVIOUS_KEYS)`,
    { masterKeyIds: [...ids] },
  );

/** 128 bits of an HMAC: no two of a tenant's chats or messages meet in practice. */
const PSEUDONYM_BYTES = 16;

const cipherOf = (key: KeyObject): TenantCipher => {
  // a key of its own for pseudonyms, derived from the data key: erased with it, never used to encrypt
  const pseudonymKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'openclaw pseudonym v1', 32));
  return {
    seal: (aad, plaintext) => sealText(key, aad, plaintext),
    open: (aad, sealed) => openText(key, aad, sealed),
    pseudonym: (kind, value) => createHmac('sha256', pseudonymKey).update(kind).update('\0').update(value).digest().subarray(0, PSEUDONYM_BYTES).toString('hex'),
  };
};

/**
 * Data keys in `<schema>.data_keys`: a random 256-bit key per tenant, stored wrapped (AES-256-GCM)
 * by the current master key. Erasing sets the key to null and keeps the row as a tombstone, so an
 * erased tenant never silently gets a fresh key. Keys are cached in memory, bounded and for a while.
 */
export const createSqlKeyService = async (options: SqlKeyServiceOptions): Promise<KeyService & { assertMasterKeys(): Promise<void> }> => {
  const { db, master } = options;
  const s = checkSchemaName(options.schema);
  await migrateOnce(db, s, `data-keys:${s}`, keysMigration(s));
  const cacheSize = options.cacheSize ?? 10_000;
  const cacheMs = options.cacheMs ?? 60_000;
  const cache = new Map<string, { cipher: TenantCipher | undefined; until: number }>();
  const loading = new Map<string, Promise<TenantCipher | undefined>>();
  // Bumped by erase(): a read that started before it may hold the key it just deleted.
  const erasures = new Map<string, number>();

  const remember = (tenantId: string, cipher: TenantCipher | undefined) => {
    cache.delete(tenantId);
    cache.set(tenantId, { cipher, until: Date.now() + cacheMs });
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return cipher;
  };

  const unwrap = (tenantId: string, row: Row): TenantCipher => {
    const mk = master.byId(row.master_key_id!);
    if (!mk) throw masterKeyMissing([row.master_key_id!]);
    const key = decrypt(mk.key, wrapAad(tenantId), row.wrapped!);
    if (!key) throw new AppError('internal', 'data_key_damaged', `the data key of tenant ${tenantId} does not unwrap with master key ${mk.id}`);
    return cipherOf(createSecretKey(key));
  };

  const read = async (tenantId: string): Promise<Row | undefined> =>
    (
      await db.query<Row>(`SELECT master_key_id, wrapped, erased_at IS NOT NULL AS erased FROM ${s}.data_keys WHERE tenant_id = $1`, [tenantId])
    ).rows[0];

  const load = async (tenantId: string, create: boolean): Promise<TenantCipher | undefined> => {
    let row = await read(tenantId);
    if (!row && create) {
      const wrapped = encrypt(master.current.key, wrapAad(tenantId), randomBytes(32));
      await db.query(`INSERT INTO ${s}.data_keys (tenant_id, master_key_id, wrapped) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING`, [
        tenantId,
        master.current.id,
        wrapped,
      ]);
      row = await read(tenantId); // ours, or the one a concurrent writer stored first
    }
    if (!row || row.erased) return undefined;
    return unwrap(tenantId, row);
  };

  return {
    async cipherFor(tenantId, opts = {}) {
      const hit = cache.get(tenantId);
      if (hit && hit.until > Date.now() && (hit.cipher || !opts.create)) return hit.cipher;
      const key = `${tenantId}\0${opts.create === true}`;
      let pending = loading.get(key);
      if (!pending) {
        const epoch = erasures.get(tenantId) ?? 0;
        pending = load(tenantId, opts.create === true)
          .then((cipher) => ((erasures.get(tenantId) ?? 0) === epoch ? remember(tenantId, cipher) : undefined))
          .finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return pending;
    },
    async erase(tenantId) {
      await db.query(
        `INSERT INTO ${s}.data_keys (tenant_id, master_key_id, wrapped, erased_at) VALUES ($1, NULL, NULL, now())
         ON CONFLICT (tenant_id) DO UPDATE SET master_key_id = NULL, wrapped = NULL, erased_at = coalesce(${s}.data_keys.erased_at, now())`,
        [tenantId],
      );
      erasures.set(tenantId, (erasures.get(tenantId) ?? 0) + 1);
      remember(tenantId, undefined);
    },
    async rewrap() {
      const { rows } = await db.query<Row & { tenant_id: string }>(
        `SELECT tenant_id, master_key_id, wrapped, false AS erased FROM ${s}.data_keys WHERE wrapped IS NOT NULL AND master_key_id <> $1`,
        [master.current.id],
      );
      let rewrapped = 0;
      for (const row of rows) {
        const mk = master.byId(row.master_key_id!);
        if (!mk) throw masterKeyMissing([row.master_key_id!]);
        const key = decrypt(mk.key, wrapAad(row.tenant_id), row.wrapped!);
        if (!key) throw new AppError('internal', 'data_key_damaged', `the data key of tenant ${row.tenant_id} does not unwrap`);
        const wrapped = encrypt(master.current.key, wrapAad(row.tenant_id), key);
        const done = await db.query<{ tenant_id: string }>(
          `UPDATE ${s}.data_keys SET master_key_id = $2, wrapped = $3 WHERE tenant_id = $1 AND master_key_id = $4 AND wrapped IS NOT NULL RETURNING tenant_id`,
          [row.tenant_id, master.current.id, wrapped, row.master_key_id],
        );
        rewrapped += done.rows.length;
      }
      return { rewrapped };
    },
    async exportWrapped() {
      const { rows } = await db.query<{ tenant_id: string; master_key_id: string | null; wrapped: Uint8Array | null; created_at: string; erased_at: string | null }>(
        `SELECT tenant_id, master_key_id, wrapped, to_json(created_at)#>>'{}' AS created_at, to_json(erased_at)#>>'{}' AS erased_at FROM ${s}.data_keys ORDER BY tenant_id`,
      );
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        masterKeyId: r.master_key_id,
        wrapped: r.wrapped ? Buffer.from(r.wrapped).toString('base64') : null,
        createdAt: r.created_at,
        erasedAt: r.erased_at,
      }));
    },
    async importWrapped(keys) {
      await db.transaction(async (tx) => {
        for (const k of keys) {
          const done = await tx.query<{ tenant_id: string }>(
            `INSERT INTO ${s}.data_keys (tenant_id, master_key_id, wrapped, created_at, erased_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id) DO NOTHING RETURNING tenant_id`,
            [k.tenantId, k.masterKeyId, k.wrapped === null ? null : Buffer.from(k.wrapped, 'base64'), k.createdAt, k.erasedAt],
          );
          if (done.rows.length === 0) throw new AppError('conflict', 'data_key_exists', `tenant ${k.tenantId} already has a data key here: refusing to replace it`);
        }
      });
      cache.clear();
    },
    async assertMasterKeys() {
      const { rows } = await db.query<{ id: string }>(
        `SELECT DISTINCT master_key_id AS id FROM ${s}.data_keys WHERE wrapped IS NOT NULL AND master_key_id <> ALL($1::text[])`,
        [master.ids],
      );
      if (rows.length > 0) throw masterKeyMissing(rows.map((r) => r.id));
    },
  };
};
