import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEventCodec } from '../../adapters/codec/index.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { createProjector } from '../../adapters/projections/projector.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { useProjectorSchemas } from '../support/projector-fixture.ts';

const at = '2026-11-30T12:00:00.000Z';

// Review: after a failed batch the projector re-reads its checkpoint; if that one read fails too (a
// pooled connection the database restart killed), it must not start over from the log's beginning.
describe('projector restart when the checkpoint read fails', () => {
  const fixture = useProjectorSchemas('cpfail');

  it('resumes from its checkpoint, not from the start of the log', async () => {
    const t = uniqueTenant();
    const stream = `conversation-${t}.c1`;
    const started = { conversationId: 'c1', tenantId: t, channel: 'api', externalChatId: null, title: null, at };
    const msg = (n: number) => ({ id: randomUUID(), type: 'MessagePosted', data: { messageId: `m${n}`, role: 'user', channel: 'api', text: `m${n}`, at }, metadata: meta(t) });
    await fixture.store.append(stream, [{ id: randomUUID(), type: 'ConversationStarted', data: started, metadata: meta(t) }, msg(1), msg(2)], 'no_stream');

    let failTransaction = false;
    let failCheckpointRead = false;
    const db = new Proxy(fixture.db, {
      get(target, prop, receiver) {
        if (prop === 'transaction')
          return (...args: Parameters<SqlDb['transaction']>) => {
            if (failTransaction) {
              failTransaction = false;
              return Promise.reject(new Error('Connection terminated unexpectedly'));
            }
            return target.transaction(...args);
          };
        if (prop === 'query')
          return (sql: string, params?: unknown[]) => {
            if (failCheckpointRead && /SELECT name, position FROM .*checkpoints/.test(sql) && !sql.includes('FOR UPDATE')) {
              failCheckpointRead = false;
              return Promise.reject(new Error('Connection terminated unexpectedly'));
            }
            return target.query(sql, params as never);
          };
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as SqlDb;
    const subscribedAfter: (bigint | undefined)[] = [];
    const store = new Proxy(fixture.store, {
      get(target, prop, receiver) {
        if (prop === 'subscribe')
          return (options: Parameters<EventStore['subscribe']>[0], handler: Parameters<EventStore['subscribe']>[1]) => {
            subscribedAfter.push(options.after);
            return target.subscribe(options, handler);
          };
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;

    const projector = createProjector({ db, store, codec: createEventCodec({ keys: null }), schema: fixture.readModels, projections: PROJECTIONS });
    projector.start();
    const head = (await fixture.store.headPosition())!;
    for (const deadline = Date.now() + 10_000; (projector.position ?? -1n) < head; await new Promise((r) => setTimeout(r, 20)))
      if (Date.now() > deadline) throw new Error('the projector did not catch up');
    const checkpoint = projector.position!;

    failTransaction = true; // the next batch fails: the projector restarts from its checkpoint...
    failCheckpointRead = true; // ...whose read fails once too
    const appended = await fixture.store.append(stream, [msg(3)], 2);
    for (const deadline = Date.now() + 10_000; (projector.position ?? -1n) < appended.position; await new Promise((r) => setTimeout(r, 20)))
      if (Date.now() > deadline) throw new Error('the projector did not apply the new event');
    await projector.stop();

    expect(subscribedAfter.length).toBeGreaterThanOrEqual(2);
    expect(subscribedAfter.at(-1)).toBe(checkpoint); // was undefined: the whole log read again
  });
});
