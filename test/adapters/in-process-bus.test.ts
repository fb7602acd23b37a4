import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../adapters/bus/in-process.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { pgliteDb } from '../../adapters/event-store/pglite.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { waitFor } from '../support/gate.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';

describe('in-process bus: named durable consumers over the store', () => {
  let pg: PGlite;
  let store: EventStore;
  const open = async () => {
    const db = pgliteDb(pg, { ownsInstance: false });
    return createInProcessBus(store, await createSqlCheckpointStore(db));
  };
  beforeAll(async () => {
    pg = await PGlite.create();
    store = await createSqlEventStore(pgliteDb(pg, { ownsInstance: false }));
  });
  afterAll(async () => {
    await store.close();
    await pg.close();
  });

  it('given a consumer stopped after some events, when it restarts, then it resumes after its checkpoint', async () => {
    const t = uniqueTenant();
    const seen: RecordedEvent[] = [];
    const bus = await open();
    const first = await bus.consume('dashboard', { filter: { tenantId: t } }, (events) => void seen.push(...events));
    for (let i = 0; i < 10; i++) await store.append(`tenant-${t}`, [newEvent(t, 'E', { i })], 'any');
    await waitFor(() => seen.length === 10);
    await first.close();
    for (let i = 10; i < 15; i++) await store.append(`tenant-${t}`, [newEvent(t, 'E', { i })], 'any');
    const again = await (await open()).consume('dashboard', { filter: { tenantId: t } }, (events) => void seen.push(...events));
    await waitFor(() => seen.length >= 15);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await again.close();
    expect(seen.map((e) => (e.data as { i: number }).i)).toEqual([...Array(15).keys()]);
  });

  it('given a handler that fails, then the batch is not acknowledged and is delivered again (at-least-once)', async () => {
    const t = uniqueTenant();
    await store.append(`tenant-${t}`, [newEvent(t, 'E', { i: 0 })], 'any');
    const failing = await (await open()).consume('mailer', { filter: { tenantId: t } }, () => {
      throw new Error('SMTP down');
    });
    await expect(failing.done).rejects.toThrow('SMTP down');
    const seen: RecordedEvent[] = [];
    const retry = await (await open()).consume('mailer', { filter: { tenantId: t } }, (events) => void seen.push(...events));
    await waitFor(() => seen.length === 1);
    await retry.close();
    expect(seen[0]!.data).toEqual({ i: 0 });
  });

  it('keeps each named consumer independent', async () => {
    const t = uniqueTenant();
    const a: RecordedEvent[] = [];
    const b: RecordedEvent[] = [];
    const bus = await open();
    const sa = await bus.consume('consumer-a', { filter: { tenantId: t } }, (events) => void a.push(...events));
    await store.append(`tenant-${t}`, [newEvent(t)], 'any');
    await waitFor(() => a.length === 1);
    await sa.close();
    const sb = await bus.consume('consumer-b', { filter: { tenantId: t } }, (events) => void b.push(...events));
    await waitFor(() => b.length === 1);
    await sb.close();
    await expect(bus.consume('bad name!', {}, () => undefined)).rejects.toThrow('invalid consumer name');
  });
});
