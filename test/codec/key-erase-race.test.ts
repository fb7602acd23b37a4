import { afterAll, describe, expect, it } from 'vitest';
import { createSqlKeyService } from '../../adapters/crypto/key-service.ts';
import { masterKeysFrom } from '../../adapters/crypto/master-keys.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { newMasterKey } from '../support/codec.ts';
import { uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

describe('key service: erasure takes effect at once in the process that erased', () => {
  const schema = uniqueSchema('keyrace');
  const db = pgPoolDb(TEST_DATABASE_URL, 2);
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  it('a key read that was in flight when erase() ran does not put the erased key back in the cache', async () => {
    const master = masterKeysFrom(newMasterKey());
    const t = uniqueTenant();
    const writer = await createSqlKeyService({ db, schema, master });
    expect(await writer.cipherFor(t, { create: true })).toBeDefined();

    // a db whose next SELECT of the data key is held until we let it go
    let hold: Promise<void> | undefined;
    let release!: () => void;
    const gated: SqlDb = Object.create(db) as SqlDb;
    gated.query = (async (text: string, params?: unknown[]) => {
      const result = await db.query(text, params);
      if (hold && text.startsWith('SELECT master_key_id')) {
        const h = hold;
        hold = undefined;
        await h;
      }
      return result;
    }) as SqlDb['query'];
    const keys = await createSqlKeyService({ db: gated, schema, master });

    hold = new Promise<void>((r) => (release = r));
    const inFlight = keys.cipherFor(t); // e.g. a read request decoding in `view` mode
    await new Promise((r) => setTimeout(r, 50)); // its SELECT has returned the live key, held here
    await keys.erase(t); // DELETE /tenants/:id in the same process
    expect(await keys.cipherFor(t)).toBeUndefined(); // joins the in-flight read?
    release();
    await inFlight;
    expect(await keys.cipherFor(t)).toBeUndefined(); // erased: must never open again
  });
});
