import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateReadModels, readCheckpoint } from '../../adapters/projections/projector.ts';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { waitFor } from '../support/gate.ts';
import { dropSchema, uniqueSchema } from '../support/postgres.ts';
import { expectSameReadModels } from '../support/read-models.ts';

describe('projections rebuild', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness({ OPERATOR_REQUESTS_PER_MINUTE: '100000' });
  });
  afterAll(async () => h?.close());

  it('rebuilds beside the live tables and swaps, while the API keeps answering and the projector keeps going', async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const { key } = await newTenant(operator, 'enterprise');
    const me = client(h.baseUrl, key);
    const conversations: string[] = [];
    let position = '';
    for (let c = 0; c < 20; c++) {
      const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: `c${c}` }), 201);
      conversations.push(conversationId);
      for (let m = 0; m < 10; m++) position = ok(await me.post<{ position: string }>(`/conversations/${conversationId}/messages`, { text: `m${m}` }), 201).position;
    }
    const before = ok(await me.get<{ items: unknown[] }>(`/conversations/${conversations[0]}/messages?limit=100&minPosition=${position}`), 200);

    let reading = true;
    const statuses: number[] = [];
    const readers = (async () => {
      for (let i = 0; reading; i++) {
        statuses.push((await me.get(`/conversations/${conversations[i % 20]}/messages?limit=5`)).status);
        if (i % 5 === 0) statuses.push((await me.post(`/conversations/${conversations[i % 20]}/messages`, { text: `during ${i}` })).status);
      }
    })();
    const result = await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: h.schemas.readModels, projections: PROJECTIONS, batchSize: 50 });
    reading = false;
    await readers;

    expect(result.applied).toBeGreaterThan(200);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
    const after = ok(await me.post<{ position: string }>(`/conversations/${conversations[0]}/messages`, { text: 'after the swap' }), 201);
    const history = ok(await me.get<{ items: Array<{ text: string }> }>(`/conversations/${conversations[0]}/messages?limit=100&minPosition=${after.position}`), 200);
    expect(history.items.length).toBeGreaterThan(before.items.length);
    expect(history.items.at(-1)!.text).toBe('after the swap');

    // Row for row: the swapped-in tables, kept up by the live projector since, equal a build from scratch.
    const head = (await h.storage.store.headPosition())!;
    await waitFor(async () => ((await readCheckpoint(h.storage.db, { schema: h.schemas.readModels, suffix: '' }, PROJECTIONS)) ?? -1n) >= head, 10_000, 'the live projector');
    const scratch = uniqueSchema('rb_scratch');
    try {
      await migrateReadModels(h.storage.db, scratch, PROJECTIONS);
      await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: scratch, projections: PROJECTIONS });
      await expectSameReadModels(h.schemas.readModels, scratch, { nonEmpty: ['tenants', 'api_keys', 'conversations', 'messages', 'usage_daily'] });
    } finally {
      await dropSchema(scratch);
    }
  });

  it('a creation event repeated in the log (a message id posted twice) rebuilds to what the live projector holds', async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const { key, tenantId } = await newTenant(operator, 'enterprise');
    const me = client(h.baseUrl, key);
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'repeat' }), 201);
    const posted = ok(await me.post<{ messageId: string }>(`/conversations/${conversationId}/messages`, { text: 'first' }), 201);
    // Past the decider (as an old log, an import or a bug could hold it): the same message id again.
    const stream = `conversation-${tenantId}.${conversationId}`;
    const { position } = await h.storage.store.append(
      stream,
      [{ id: randomUUID(), type: 'MessagePosted', data: { messageId: posted.messageId, role: 'user', channel: 'api', text: 'second', at: new Date().toISOString() }, metadata: { tenantId, actor: 'test', correlationId: randomUUID(), causationId: null } }],
      'any',
    );
    expect((await h.platform.reads.waitFor(position!, 5_000)).reached).toBe(true);
    const rows = async () =>
      (await h.storage.db.query(`SELECT * FROM ${h.schemas.readModels}.messages WHERE tenant_id = $1 ORDER BY message_id`, [tenantId])).rows;
    const live = await rows();
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ text: 'second' });

    // pages of one event: the repeat meets the row a plain INSERT already wrote, in the table being rebuilt
    await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: h.schemas.readModels, projections: PROJECTIONS, batchSize: 1 });
    expect(await rows()).toEqual(live);
  });

  it("an erasure the rebuild applies before the live projector (its checkpoint is moved past it at the swap) still deletes the tenant's knight places", async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const [gone, kept] = [await newTenant(operator, 'pro'), await newTenant(operator, 'pro')];
    ok(await operator.delete(`/tenants/${gone.tenantId}`), 200);
    // read models no live projector has served yet: the places are as they were before the erasure, so the
    // TenantErased reaches them only through the rebuild (as one between the serving and built checkpoints)
    const scratch = uniqueSchema('rb_places');
    const places = async (tenantId: string) =>
      Number((await h.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${scratch}.knight_reservations WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);
    try {
      await migrateReadModels(h.storage.db, scratch, PROJECTIONS);
      for (const t of [gone, kept])
        await h.storage.db.query(`INSERT INTO ${scratch}.knight_reservations (tenant_id, reservation_id, knight_id) VALUES ($1, $2, $3)`, [t.tenantId, randomUUID(), randomUUID()]);
      await rebuildProjections({ db: h.storage.db, store: h.storage.store, codec: h.storage.codec, schema: scratch, projections: PROJECTIONS });
      expect(await places(gone.tenantId)).toBe(0);
      expect(await places(kept.tenantId)).toBe(1);
    } finally {
      await dropSchema(scratch);
    }
  });

  it('a deadlock that ends the swap (a read holding one table while the swap drops another) is tried again, not a failed rebuild', async () => {
    await newTenant(client(h.baseUrl, h.operatorKey), 'pro'); // some log to rebuild from
    const scratch = uniqueSchema('rb_deadlock');
    const { db } = h.storage;
    let swaps = 0;
    // PostgreSQL's answer when it picks the swap as a deadlock's victim, on its first DROP TABLE: the transaction rolls back whole
    const deadlockOnce: SqlDb = {
      ...db,
      transaction: (fn, beforeCommit, prelude) =>
        db.transaction(
          (tx) =>
            fn({
              ...tx,
              exec: async (text) => {
                if (text.includes('DROP TABLE') && !text.includes('IF EXISTS') && swaps++ === 0) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
                return tx.exec(text);
              },
            }),
          beforeCommit,
          prelude,
        ),
    };
    try {
      await migrateReadModels(db, scratch, PROJECTIONS);
      const result = await rebuildProjections({ db: deadlockOnce, store: h.storage.store, codec: h.storage.codec, schema: scratch, projections: PROJECTIONS });
      expect(swaps).toBeGreaterThan(1);
      expect(result.applied).toBeGreaterThan(0);
      expect(((await readCheckpoint(db, { schema: scratch, suffix: '' }, PROJECTIONS)) ?? -1n) >= (await h.storage.store.headPosition())!).toBe(true);
    } finally {
      await dropSchema(scratch);
    }
  });
});
