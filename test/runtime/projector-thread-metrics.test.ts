import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { registry } from '../../adapters/telemetry/metrics.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { startProjectorThread } from '../../runtime/projector-host.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * docs/operations.md lists openclaw_projector_batch_events / _failures_total "from: projector";
 * PROJECTOR_MODE=thread is the api role's default, and its projector's metrics live in the worker
 * thread's own prom-client registry, which no /metrics serves.
 */
describe('projector metrics with PROJECTOR_MODE=thread', () => {
  const events = uniqueSchema('rvm_ev');
  const readModels = uniqueSchema('rvm_rm');
  let store: EventStore;
  const env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: events, READ_MODEL_SCHEMA: readModels, LOG_LEVEL: 'silent', PG_POOL_SIZE: '2' };
  beforeAll(async () => {
    store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema: events });
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(events);
    await dropSchema(readModels);
  });

  it("the thread's applied batches show in this process's /metrics", async () => {
    const handle = await startProjectorThread(env);
    try {
      const tenantId = `t-${randomUUID().slice(0, 8)}`;
      const { position } = await store.append(
        `tenant-${tenantId}`,
        [{ id: randomUUID(), type: 'TenantCreated', data: { tenantId, name: 'Acme', tier: 'free', at: new Date().toISOString() }, metadata: { tenantId, actor: 'test', correlationId: randomUUID(), causationId: null } }],
        'no_stream',
      );
      let seen = handle.applied.generation;
      const deadline = Date.now() + 10_000;
      while ((handle.position ?? -1n) < position && Date.now() < deadline) seen = await handle.applied.wait(seen, 250);
      expect(handle.position).toBe(position);
      const text = await registry.metrics();
      expect(text).toMatch(new RegExp(`openclaw_projector_batch_events_count\\{schema="${readModels}"\\} [1-9]`));
    } finally {
      await handle.stop();
    }
  });
});
