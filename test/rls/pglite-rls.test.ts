import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createProjector, migrateReadModels, readCheckpoint } from '../../adapters/projections/projector.ts';
import { createReadSide } from '../../adapters/projections/read-side.ts';
import type { TenantId } from '../../domain/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { newEvent } from '../support/ids.ts';

// PGlite ignores the login role (everyone is a superuser there), so isolation rests entirely on the
// read side dropping to ocs_api inside each transaction: this proves it does on the embedded default.
describe('row-level security on the embedded default (PGlite)', () => {
  // events written before encryption existed (plaintext, no key): decoded and shown as they are
  const codec = createEventCodec({ keys: null });
  let pg: PGlite;
  let store: EventStore;
  const db = () => pgliteDb(pg, { ownsInstance: false });
  beforeAll(async () => {
    pg = await PGlite.create();
    store = await createSqlEventStore(db());
    await migrateReadModels(db(), 'rm', PROJECTIONS);
    for (const t of ['tenant-a', 'tenant-b']) {
      await store.append(`tenant-${t}`, [newEvent(t, 'TenantCreated', { tenantId: t, name: t, tier: 'free', at: '2026-11-30T00:00:00Z' })], 'no_stream');
      await store.append(`conversation-${t}.c1`, [newEvent(t, 'ConversationStarted', { conversationId: 'c1', tenantId: t, channel: 'api', externalChatId: null, title: t, at: '2026-11-30T00:00:00Z' })], 'no_stream');
    }
    const projector = createProjector({ db: db(), store, codec, schema: 'rm', projections: PROJECTIONS });
    projector.start();
    const head = (await store.headPosition())!;
    while (((await readCheckpoint(db(), { schema: 'rm', suffix: '' }, PROJECTIONS)) ?? -1n) < head) await new Promise((r) => setTimeout(r, 20));
    await projector.stop();
  });
  afterAll(async () => {
    await store.close();
    await pg.close();
  });

  it('shows a tenant only its own rows through the read side, and nothing without a tenant', async () => {
    const reads = createReadSide({ db: db(), schema: 'rm', store, codec, projections: PROJECTIONS });
    const a = await reads.forTenant('tenant-a' as TenantId, (r) => r.conversations({ limit: 10 }));
    expect(a.items.map((c) => c.title)).toEqual(['tenant-a']);
    expect(await reads.forTenant('tenant-a' as TenantId, (r) => r.conversation('c1'))).toMatchObject({ title: 'tenant-a' });
    const raw = await pg.transaction(async (tx) => {
      await tx.query(`SET LOCAL ROLE ocs_api`);
      return (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM rm.conversations`)).rows[0]!.n;
    });
    expect(raw).toBe(0);
    const asSuperuser = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM rm.conversations`)).rows[0]!.n;
    expect(asSuperuser).toBe(2);
  });
});
