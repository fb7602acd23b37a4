import { randomBytes } from 'node:crypto';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { createSqlKeyService } from '../../adapters/crypto/key-service.ts';
import { masterKeysFrom } from '../../adapters/crypto/master-keys.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { KeyService } from '../../domain/ports/keys.ts';
import { TEST_DATABASE_URL } from './postgres.ts';

export const newMasterKey = (): string => randomBytes(32).toString('base64');

/**
 * The real codec with real data keys in `<schema>.data_keys` on the test database (or on `db`),
 * under a master key of its own. `close()` closes the connection it opened.
 */
export const openTestCodec = async (
  schema: string,
  options: { db?: SqlDb; masterKey?: string; cacheMs?: number } = {},
): Promise<{ codec: EventCodec; keys: KeyService; db: SqlDb; masterKey: string; close(): Promise<void> }> => {
  const db = options.db ?? pgPoolDb(TEST_DATABASE_URL, 2);
  const masterKey = options.masterKey ?? newMasterKey();
  const keys = await createSqlKeyService({ db, schema, master: masterKeysFrom(masterKey), ...(options.cacheMs === undefined ? {} : { cacheMs: options.cacheMs }) });
  return {
    codec: createEventCodec({ keys }),
    keys,
    db,
    masterKey,
    close: async () => {
      if (!options.db) await db.close();
    },
  };
};
