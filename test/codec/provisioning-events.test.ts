import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { openTestCodec } from '../support/codec.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const at = '2026-11-30T12:00:00.000Z';

describe('provisioning events through the codec', () => {
  const schema = uniqueSchema('codec_prov');
  let store: EventStore;
  let codec: EventCodec;
  let close: () => Promise<void>;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
    ({ codec, close } = await openTestCodec(schema));
  });
  afterAll(async () => {
    await store.close();
    await close();
    await dropSchema(schema);
  });

  const storeRaw = async (streamId: string, tenantId: string, events: { type: string; data: unknown }[]) => {
    await store.append(streamId, events.map((e) => ({ id: randomUUID(), ...e, metadata: meta(tenantId) })), 'any');
    return store.readStream(streamId);
  };

  it('reads v1 KnightFailed, KnightTaskCompleted and AgentVmReady, stored before stages, screenshots and bridge tokens, in the current shape', async () => {
    const t = uniqueTenant();
    const knight = await storeRaw(`knight-${t}.k1`, t, [
      { type: 'KnightRequested', data: { knightId: 'k1', tenantId: t, task: 'old task', spec: { cpu: 2, ramGb: 4 }, at } },
      { type: 'KnightTaskCompleted', data: { taskId: 't1', result: 'old result', at } },
      { type: 'KnightFailed', data: { reason: 'old failure', at } },
    ]);
    const decoded = await codec.decodeStream('knight', knight, 'open');
    expect(decoded.map((e) => e.data)).toMatchObject([{}, { result: 'old result', screenshotUrl: null }, { stage: 'unknown', reason: 'old failure' }]);
    const tenant = await storeRaw(`tenant-${t}`, t, [{ type: 'AgentVmReady', data: { requestId: 'agent-1', vmId: 'vm-1', at } }]);
    expect((await codec.decodeStream('tenant', tenant, 'open'))[0]!.data).toEqual({ requestId: 'agent-1', vmId: 'vm-1', bridgeTokenHash: null, at });
  });

  it('writes the new versions, a failure’s reason and a task’s result sealed (they may quote the tenant’s own data)', async () => {
    const t = uniqueTenant();
    const stream = `knight-${t}.k2`;
    const encoded = await codec.encode(
      'knight',
      stream,
      [
        { id: randomUUID(), event: { type: 'KnightTaskCompleted', data: { taskId: 't1', result: 'secret plans', screenshotUrl: 'https://s.test/1.png', at } } },
        { id: randomUUID(), event: { type: 'KnightFailed', data: { stage: 'task', reason: 'the task exited with 2: secret plans', at } } },
      ],
      meta(t),
    );
    expect(encoded.map((e) => e.type)).toEqual(['KnightTaskCompleted.v2', 'KnightFailed.v2']);
    expect(JSON.stringify(encoded.map((e) => e.data))).not.toContain('secret plans');
    await store.append(stream, encoded, 'any');
    const decoded = await codec.decodeStream('knight', await store.readStream(stream), 'open');
    expect(decoded.map((e) => e.data)).toEqual([
      { taskId: 't1', result: 'secret plans', screenshotUrl: 'https://s.test/1.png', at },
      { stage: 'task', reason: 'the task exited with 2: secret plans', at },
    ]);
    const tenantEvents = await codec.encode(
      'tenant',
      `tenant-${t}`,
      [
        { id: randomUUID(), event: { type: 'AgentVmReady', data: { requestId: 'a', vmId: 'v', bridgeTokenHash: 'sha256:abcdef0123456789', at } } },
        { id: randomUUID(), event: { type: 'AgentVmFailed', data: { requestId: 'a', stage: 'bootstrap', reason: 'npm exited with 1', at } } },
      ],
      meta(t),
    );
    expect(tenantEvents.map((e) => e.type)).toEqual(['AgentVmReady.v2', 'AgentVmFailed']);
    await expect(
      codec.encode('knight', stream, [{ id: randomUUID(), event: { type: 'KnightTaskCompleted', data: { taskId: 't1', result: 'x', screenshotUrl: 'javascript:1', at } } }], meta(t)),
    ).rejects.toMatchObject({ code: 'event_encode_failed' });
  });
});
