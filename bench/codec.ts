import { randomBytes } from 'node:crypto';
import { createEventCodec } from '../adapters/codec/index.ts';
import { createSqlKeyService } from '../adapters/crypto/key-service.ts';
import { masterKeysFrom } from '../adapters/crypto/master-keys.ts';
import type { SqlDb } from '../adapters/event-store/sql/db.ts';
import type { EventCodec } from '../domain/ports/codec.ts';

/**
 * The codec as the platform runs it (data keys in `<schema>.data_keys` under a fresh master key),
 * or with encryption off: the same validation and encoding, personal fields left in plaintext.
 */
export const benchCodec = async (db: SqlDb, schema: string, encrypted: boolean): Promise<EventCodec> =>
  encrypted
    ? createEventCodec({ keys: await createSqlKeyService({ db, schema, master: masterKeysFrom(randomBytes(32).toString('base64')) }) })
    : createEventCodec({ keys: null, plaintextWithoutKeys: true });
