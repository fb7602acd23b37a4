import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import { noCache } from '../../commands/shell/state-cache.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Decider } from '../../domain/shared/decider.ts';
import { domainError } from '../../domain/shared/errors.ts';
import { newEvent, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

// A tiny counter aggregate keeps these specs about the shell, not about business rules.
type Cmd = { type: 'Add'; by: number } | { type: 'Close' };
type Ev = { type: 'Added'; data: { by: number } } | { type: 'Closed'; data: Record<string, never> };
type St = { total: number; closed: boolean; seen: number };
const counter: Decider<Cmd, Ev, St> = {
  initialState: () => ({ total: 0, closed: false, seen: 0 }),
  evolve: (s, e) =>
    e.type === 'Added' ? { ...s, total: s.total + e.data.by, seen: s.seen + 1 } : { ...s, closed: true, seen: s.seen + 1 },
  decide: (c, s) => {
    if (s.closed) throw domainError('conflict', 'closed', 'closed');
    if (c.type === 'Close') return [{ type: 'Closed', data: {} }];
    return c.by === 0 ? [] : [{ type: 'Added', data: { by: c.by } }];
  },
};

describe('command shell: read → fold → decide → append → retry', () => {
  const schema = uniqueSchema('shell');
  let store: EventStore;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
  });
  afterAll(async () => {
    await store.close();
    await dropSchema(schema);
  });
  const envelope = (t: string, command: Cmd, extra = {}) => ({
    streamId: `conversation-${t}.c1`,
    command,
    metadata: { tenantId: t, actor: 'test', correlationId: 'corr' },
    ...extra,
  });

  it('appends what the decider decides and returns the new state and position', async () => {
    const t = uniqueTenant();
    const shell = createCommandShell({ store });
    const first = await shell.handle(counter, envelope(t, { type: 'Add', by: 2 }));
    const second = await shell.handle(counter, envelope(t, { type: 'Add', by: 3 }));
    expect(second.state.total).toBe(5);
    expect(second.nextRevision).toBe(1);
    expect(second.position! > first.position!).toBe(true);
    const stored = await store.readStream(`conversation-${t}.c1`);
    expect(stored.map((e) => e.data)).toEqual([{ by: 2 }, { by: 3 }]);
    expect(stored[0]!.metadata).toMatchObject({ tenantId: t, actor: 'test', correlationId: 'corr', causationId: null });
  });

  it('appends nothing when the decider says the command is already satisfied', async () => {
    const t = uniqueTenant();
    const shell = createCommandShell({ store });
    const result = await shell.handle(counter, envelope(t, { type: 'Add', by: 0 }));
    expect(result.events).toEqual([]);
    expect(await store.readStream(`conversation-${t}.c1`)).toEqual([]);
  });

  it('given an idempotency key, a repeat appends nothing and returns the first result, even from another process', async () => {
    const t = uniqueTenant();
    const idempotency = { key: 'req-1', fingerprint: 'body-hash-a' };
    const first = await createCommandShell({ store }).handle(counter, envelope(t, { type: 'Add', by: 1 }, { idempotency }));
    const sameProcess = createCommandShell({ store });
    await sameProcess.handle(counter, envelope(t, { type: 'Add', by: 5 }));
    const repeat = await sameProcess.handle(counter, envelope(t, { type: 'Add', by: 1 }, { idempotency }));
    expect(repeat).toMatchObject({ duplicate: true, position: first.position, nextRevision: first.nextRevision });
    await expect(
      sameProcess.handle(counter, envelope(t, { type: 'Add', by: 9 }, { idempotency: { key: 'req-1', fingerprint: 'body-hash-b' } })),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect((await store.readStream(`conversation-${t}.c1`)).map((e) => e.data)).toEqual([{ by: 1 }, { by: 5 }]);
  });

  it('given a concurrent repeat of one key in two processes, then exactly one append lands', async () => {
    const t = uniqueTenant();
    const idempotency = { key: 'webhook-42', fingerprint: 'x' };
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => createCommandShell({ store }).handle(counter, envelope(t, { type: 'Add', by: 1 }, { idempotency }))),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.position))).toHaveLength(1);
    expect(await store.readStream(`conversation-${t}.c1`)).toHaveLength(1);
  });

  it('given a warm cache, when another process writes, then the next command decides on the fresh state', async () => {
    const t = uniqueTenant();
    const a = createCommandShell({ store });
    const b = createCommandShell({ store });
    await a.handle(counter, envelope(t, { type: 'Add', by: 1 }));
    await b.handle(counter, envelope(t, { type: 'Close' }));
    await expect(a.handle(counter, envelope(t, { type: 'Add', by: 1 }))).rejects.toMatchObject({ code: 'closed' });
  });

  it('given a writer that slips in between read and append, then the conflict is caught and the command re-decided', async () => {
    const t = uniqueTenant();
    const stream = `conversation-${t}.c1`;
    let slipped = false;
    const racing: EventStore = {
      ...store,
      append: async (streamId, events, expected) => {
        if (!slipped) {
          slipped = true;
          await store.append(streamId, [{ ...newEvent(t, 'Added', { by: 100 }) }], 'any');
        }
        return store.append(streamId, events, expected);
      },
    };
    const shell = createCommandShell({ store: racing });
    const result = await shell.handle(counter, envelope(t, { type: 'Add', by: 1 }));
    expect(result.state.total).toBe(101);
    expect((await store.readStream(stream)).map((e) => e.data)).toEqual([{ by: 100 }, { by: 1 }]);
  });

  it('gives up with a typed concurrency error after a bounded number of attempts, or at once when retry is unsafe', async () => {
    const t = uniqueTenant();
    let attempts = 0;
    const alwaysRacing: EventStore = {
      ...store,
      append: async (streamId, events, expected) => {
        attempts++;
        await store.append(streamId, [newEvent(t, 'Added', { by: 1 })], 'any');
        return store.append(streamId, events, expected);
      },
    };
    const shell = createCommandShell({ store: alwaysRacing, maxAttempts: 4, sleep: async () => undefined });
    await expect(shell.handle(counter, envelope(t, { type: 'Add', by: 1 }))).rejects.toMatchObject({
      code: 'concurrency_conflict',
      kind: 'conflict',
    });
    expect(attempts).toBe(4);
    attempts = 0;
    await expect(shell.handle(counter, envelope(t, { type: 'Add', by: 1 }, { retryOnConflict: false }))).rejects.toMatchObject({
      code: 'concurrency_conflict',
    });
    expect(attempts).toBe(1);
  });

  it('folds a long stream in pages on a cold start and agrees with the cached path', async () => {
    const t = uniqueTenant();
    const stream = `conversation-${t}.c1`;
    const batch = Array.from({ length: 1000 }, () => newEvent(t, 'Added', { by: 1 }));
    for (let i = 0; i < 5; i++) await store.append(stream, batch.map((e) => ({ ...e, id: crypto.randomUUID() })), 'any');
    const cold = await createCommandShell({ store, cache: noCache }).handle(counter, envelope(t, { type: 'Add', by: 1 }));
    const warm = createCommandShell({ store });
    await warm.state(counter, stream);
    const cached = await warm.handle(counter, envelope(t, { type: 'Add', by: 1 }));
    expect(cold.state).toEqual({ total: 5001, closed: false, seen: 5001 });
    expect(cached.state).toEqual({ total: 5002, closed: false, seen: 5002 });
  });
});
