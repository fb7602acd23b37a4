import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import { createProjector, readCheckpoint } from '../../adapters/projections/projector.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { useProjectorSchemas } from '../support/projector-fixture.ts';

const at = '2026-11-30T12:00:00.000Z';

describe('projector and an event that cannot be decoded', () => {
  const fixture = useProjectorSchemas('halt');
  const { db, readModels } = fixture;

  it('applies everything before it, stops loudly right there with stream, revision and type, and never skips it', async () => {
    const t = uniqueTenant();
    const stream = `conversation-${t}.c1`;
    const started = { conversationId: 'c1', tenantId: t, channel: 'api', externalChatId: null, title: null, at };
    const good = (n: number) => ({ id: randomUUID(), type: 'MessagePosted', data: { messageId: `m${n}`, role: 'user', channel: 'api', text: `m${n}`, at }, metadata: meta(t) });
    await fixture.store.append(stream, [{ id: randomUUID(), type: 'ConversationStarted', data: started, metadata: meta(t) }, good(1), good(2)], 'no_stream');
    const bad = await fixture.store.append(stream, [{ id: randomUUID(), type: 'MessagePosted', data: { messageId: 'm3', text: 42 }, metadata: meta(t) }], 2);
    await fixture.store.append(stream, [good(4)], 3);

    const halted: unknown[] = [];
    const retried: unknown[] = [];
    const projector = createProjector({
      db,
      store: fixture.store,
      codec: createEventCodec({ keys: null }),
      schema: readModels,
      projections: PROJECTIONS,
      onHalt: (error) => halted.push(error),
      onError: (error) => retried.push(error),
    });
    projector.start();
    for (const deadline = Date.now() + 10_000; halted.length === 0; await new Promise((r) => setTimeout(r, 20)))
      if (Date.now() > deadline) throw new Error('the projector did not halt');
    await projector.stop();

    expect(halted).toHaveLength(1);
    expect(retried).toEqual([]);
    expect(projector.failure).toMatchObject({ code: 'event_decode_failed', details: { streamId: stream, revision: 3, eventType: 'MessagePosted' } });
    const [before] = await fixture.store.readStream(stream, { fromRevision: 2, maxCount: 1 });
    expect(await readCheckpoint(db, { schema: readModels, suffix: '' }, PROJECTIONS)).toBe(before!.position);
    expect(before!.position < bad.position).toBe(true);
    const { rows } = await db.query<{ message_id: string }>(`SELECT message_id FROM ${readModels}.messages WHERE tenant_id = $1 ORDER BY seq`, [t]);
    expect(rows.map((r) => r.message_id)).toEqual(['m1', 'm2']);
  });
});
