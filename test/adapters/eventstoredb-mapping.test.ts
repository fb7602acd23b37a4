import { PassThrough, Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ANY,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type { EventStoreDBClient } from '@eventstore/db-client';
import {
  accepts,
  commitOf,
  escapeRegex,
  eventTypeRegex,
  serverFilterFor,
  streamNameRegex,
  toActualRevision,
  toEsdbExpectedRevision,
  toReadPosition,
  toRecordedEvent,
  UNKNOWN_POSITION,
} from '../../adapters/event-store/eventstoredb/mapping.ts';
import { isTransientEsdbError, toConflict, toStoreError, withRetries } from '../../adapters/event-store/eventstoredb/errors.ts';
import { appendEvents } from '../../adapters/event-store/eventstoredb/append.ts';
import { countEventsAfter, readAllEvents, readHeadPosition, readStreamEvents } from '../../adapters/event-store/eventstoredb/reads.ts';
import { subscribeToEvents } from '../../adapters/event-store/eventstoredb/subscribe.ts';
import { eventStoreDbFactoryFromEnv } from '../../adapters/event-store/eventstoredb/index.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { createChainVerifier } from '../../adapters/audit/verify.ts';
import { GENESIS_HEX, linkHash } from '../../adapters/event-store/chain.ts';

const matches = (regex: string | undefined, stream: string) => regex !== undefined && new RegExp(regex).test(stream);

describe('EventStoreDB mapping: expected revisions', () => {
  it('maps every expected revision exactly', () => {
    expect(toEsdbExpectedRevision('any')).toBe(ANY);
    expect(toEsdbExpectedRevision('no_stream')).toBe(NO_STREAM);
    expect(toEsdbExpectedRevision('stream_exists')).toBe(STREAM_EXISTS);
    expect(toEsdbExpectedRevision(0)).toBe(0n);
    expect(toEsdbExpectedRevision(41)).toBe(41n);
  });

  it('maps the actual revision of a WrongExpectedVersionError', () => {
    expect(toActualRevision(5n)).toBe(5);
    expect(toActualRevision('no_stream')).toBe('no_stream');
    const error = new WrongExpectedVersionError(undefined, { streamName: 'tenant-acme', expected: 3n, current: 7n });
    const conflict = toConflict('tenant-acme', 3, error);
    expect(conflict.code).toBe('wrong_expected_revision');
    expect(conflict.details).toEqual({ streamId: 'tenant-acme', expected: '3', actual: '7' });
    const missing = new WrongExpectedVersionError(undefined, { streamName: 'tenant-acme', expected: STREAM_EXISTS, current: NO_STREAM });
    expect(toConflict('tenant-acme', 'stream_exists', missing).details).toMatchObject({ actual: 'no_stream' });
  });
});

describe('EventStoreDB mapping: filters', () => {
  it('a tenant regex selects exactly that tenant’s four stream kinds', () => {
    const regex = streamNameRegex({ tenantId: 'acme' });
    expect(regex).toBe('^(tenant-acme$|conversation-acme\\.|knight-acme\\.|billing-acme$)');
    for (const stream of ['tenant-acme', 'conversation-acme.c1', 'knight-acme.k-1', 'billing-acme']) expect(matches(regex, stream)).toBe(true);
    for (const stream of ['conversation-acme2.c1', 'tenant-acmex', 'tenant-acme-x', 'knight-acme-2.k1', 'tenant-xacme', '$$tenant-acme', 'conversation-acme', 'billing-acmex', 'billing-acme.x', 'billing-acme-2'])
      expect(matches(regex, stream)).toBe(false);
  });

  it('a tenant id with a hyphen is its own tenant', () => {
    const regex = streamNameRegex({ tenantId: 'acme-2' });
    expect(matches(regex, 'conversation-acme-2.c1')).toBe(true);
    expect(matches(regex, 'conversation-acme.c1')).toBe(false);
    expect(matches(regex, 'tenant-acme')).toBe(false);
  });

  it('categories alone, and combined with a tenant', () => {
    const categories = streamNameRegex({ categories: ['conversation', 'knight'] });
    expect(categories).toBe('^(conversation-|knight-)');
    expect(matches(categories, 'knight-acme.k1')).toBe(true);
    expect(matches(categories, 'tenant-acme')).toBe(false);
    const both = streamNameRegex({ tenantId: 'acme', categories: ['tenant', 'knight'] });
    expect(matches(both, 'tenant-acme')).toBe(true);
    expect(matches(both, 'knight-acme.k1')).toBe(true);
    expect(matches(both, 'conversation-acme.c1')).toBe(false);
    expect(matches(both, 'knight-other.k1')).toBe(false);
    expect(matches(streamNameRegex({ categories: [] }), 'tenant-acme')).toBe(false);
  });

  it('escapes regex metacharacters', () => {
    expect(escapeRegex('a.b*c(d)|e$')).toBe('a\\.b\\*c\\(d\\)\\|e\\$');
    expect(matches(streamNameRegex({ categories: ['a.b'] }), 'axb-t')).toBe(false);
  });

  it('picks one server-side filter: stream names, else event types, else no system events', () => {
    expect(serverFilterFor({ tenantId: 'acme', eventTypes: ['X'] })).toEqual({ on: 'streamName', regex: streamNameRegex({ tenantId: 'acme' }) });
    expect(serverFilterFor({ eventTypes: ['MessagePosted', 'A.b'] })).toEqual({ on: 'eventType', regex: '^(MessagePosted|A\\.b)$' });
    expect(matches(eventTypeRegex(['MessagePosted']), 'MessagePostedV2')).toBe(false);
    expect(serverFilterFor(undefined)).toEqual({ on: 'excludeSystemEvents' });
    expect(serverFilterFor({})).toEqual({ on: 'excludeSystemEvents' });
  });

  it('accepts only user events of the naming scheme that pass the whole filter', () => {
    expect(accepts({ streamId: 'tenant-acme', type: 'TenantCreated' }, undefined)).toBe(true);
    expect(accepts({ streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' }, undefined)).toBe(false);
    expect(accepts({ streamId: 'tenant-acme', type: '$metadata' }, undefined)).toBe(false);
    expect(accepts({ streamId: 'orders-1', type: 'OrderPlaced' }, undefined)).toBe(false);
    expect(accepts({ streamId: 'tenant-acme', type: 'A' }, { eventTypes: ['B'] })).toBe(false);
    expect(accepts({ streamId: 'knight-acme.k1', type: 'B' }, { tenantId: 'acme', eventTypes: ['B'] })).toBe(true);
  });
});

describe('EventStoreDB mapping: positions and records', () => {
  it('reads from a commit position (inclusive on the server) or from the start', () => {
    expect(toReadPosition(undefined)).toBe(START);
    expect(toReadPosition(1234n)).toEqual({ commit: 1234n, prepare: 1234n });
  });

  it('treats a missing or u64-max position as unknown', () => {
    expect(commitOf({ commit: 10n, prepare: 9n })).toBe(10n);
    expect(commitOf(undefined)).toBeUndefined();
    expect(commitOf({ commit: UNKNOWN_POSITION, prepare: UNKNOWN_POSITION })).toBeUndefined();
  });

  it('maps a client record to the port’s RecordedEvent', () => {
    const created = new Date('2024-01-02T03:04:05Z');
    const event = toRecordedEvent({
      id: 'ABCDEF00-0000-4000-8000-000000000001',
      streamId: 'tenant-acme',
      revision: 3n,
      type: 'TenantCreated',
      data: { name: 'Acme' },
      metadata: { tenantId: 'acme', actor: 'a', correlationId: 'c', causationId: null },
      created,
      position: { commit: 999n, prepare: 999n },
    });
    expect(event).toEqual({
      id: 'abcdef00-0000-4000-8000-000000000001',
      streamId: 'tenant-acme',
      revision: 3,
      position: 999n,
      type: 'TenantCreated',
      data: { name: 'Acme' },
      metadata: { tenantId: 'acme', actor: 'a', correlationId: 'c', causationId: null },
      recordedAt: created,
    });
  });
});

describe('EventStoreDB mapping: errors', () => {
  it('maps connection failures to store_unavailable and passes others through', () => {
    const unavailable = new UnavailableError();
    expect(isTransientEsdbError(unavailable)).toBe(true);
    expect(toStoreError(unavailable, 'append')).toMatchObject({ code: 'store_unavailable', kind: 'unavailable' });
    expect(toStoreError(new Error('Failed to discover after 10 attempts.'), 'append')).toMatchObject({ code: 'store_unavailable' });
    const bug = new TypeError('x is undefined');
    expect(toStoreError(bug, 'append')).toBe(bug);
    expect(isTransientEsdbError(new WrongExpectedVersionError(undefined, { streamName: 's', expected: 1n, current: 2n }))).toBe(false);
  });

  it('retries transient failures, then reports the store unavailable', async () => {
    let calls = 0;
    await expect(
      withRetries('read', async () => {
        calls++;
        throw new UnavailableError();
      }, 2),
    ).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(calls).toBe(2);
    calls = 0;
    const value = await withRetries('read', async () => {
      if (calls++ === 0) throw new UnavailableError();
      return 'ok';
    });
    expect(value).toBe('ok');
  });

  it('eventStoreDbFactoryFromEnv is undefined without EVENTSTORE_URL', () => {
    expect(eventStoreDbFactoryFromEnv({})).toBeUndefined();
    expect(typeof eventStoreDbFactoryFromEnv({ EVENTSTORE_URL: 'esdb://localhost:2113?tls=false' })).toBe('function');
  });
});

// ---- the adapter's logic against a fake client (no server) ----

interface Stored {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  created: Date;
  position: { commit: bigint; prepare: bigint };
  isJson: true;
}

const readable = (items: unknown[], error?: Error) => {
  const stream = Readable.from(
    (async function* () {
      yield* items;
      if (error) throw error;
    })(),
  ) as Readable & { cancel(): Promise<void> };
  stream.cancel = async () => undefined;
  return stream;
};

/** A one-node in-memory imitation of the client calls the adapter makes. */
const fakeClient = () => {
  const log: Stored[] = [];
  let next = 100n;
  const client = {
    log,
    readStream(streamId: string, options: { fromRevision?: bigint | string; maxCount?: number; direction?: string } = {}) {
      const events = log.filter((e) => e.streamId === streamId);
      if (events.length === 0) return readable([], new StreamNotFoundError(undefined, streamId));
      const ordered = options.direction === 'backwards' ? [...events].reverse() : events;
      const from = typeof options.fromRevision === 'bigint' ? options.fromRevision : 0n;
      const picked = ordered.filter((e) => options.direction === 'backwards' || e.revision >= from).slice(0, options.maxCount ?? Infinity);
      return readable(picked.map((event) => ({ event })));
    },
    readAll(options: { fromPosition?: { commit: bigint } | string; maxCount?: number; direction?: string } = {}) {
      const at = typeof options.fromPosition === 'object' ? options.fromPosition.commit : undefined;
      const events =
        options.direction === 'backwards'
          ? [...log].reverse().filter((e) => at === undefined || e.position.commit < at)
          : log.filter((e) => at === undefined || e.position.commit >= at);
      return readable(events.slice(0, options.maxCount ?? Infinity).map((event) => ({ event })));
    },
    async appendToStream(streamId: string, events: { id: string; type: string; data: unknown; metadata: unknown }[], options: { expectedRevision: unknown }) {
      const current = log.filter((e) => e.streamId === streamId).length - 1;
      const expected = options.expectedRevision;
      const ok = expected === ANY || (expected === NO_STREAM && current === -1) || (expected === STREAM_EXISTS && current >= 0) || expected === BigInt(current);
      if (!ok)
        throw new WrongExpectedVersionError(undefined, { streamName: streamId, expected: expected as bigint, current: current < 0 ? NO_STREAM : BigInt(current) });
      events.forEach((e, i) =>
        log.push({ ...e, streamId, revision: BigInt(current + 1 + i), created: new Date(), position: { commit: (next += 10n), prepare: next }, isJson: true }),
      );
      return { success: true, nextExpectedRevision: BigInt(current + events.length), position: { commit: next, prepare: next } };
    },
  };
  return client;
};

const ev = (tenant: string, id = randomUUID()) => ({
  id,
  type: 'TestHappened',
  data: { n: 1 },
  metadata: { tenantId: tenant, actor: 'test', correlationId: 'c', causationId: null },
});

describe('EventStoreDB adapter logic against a fake client', () => {
  it('appends, detects a repeat (duplicate), a partial repeat (mismatch) and a conflict', async () => {
    const fake = fakeClient();
    const context = { client: fake as unknown as EventStoreDBClient, streamWindow: 1000, allWindow: 500, headPosition: async () => undefined };
    const a = ev('acme');
    const b = ev('acme');
    const first = await appendEvents(context, 'tenant-acme', [a, b], 'no_stream');
    expect(first).toEqual({ nextRevision: 1, position: fake.log[1]!.position.commit, duplicate: false });
    const again = await appendEvents(context, 'tenant-acme', [a, b], 'no_stream');
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await appendEvents(context, 'tenant-acme', [a, b], 1)).toEqual({ ...first, duplicate: true });
    await expect(appendEvents(context, 'tenant-acme', [a, ev('acme')], 'any')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
    await expect(appendEvents(context, 'knight-acme.k2', [b], 'any')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
    await expect(appendEvents(context, 'tenant-acme', [ev('acme')], 0)).rejects.toMatchObject({
      code: 'wrong_expected_revision',
      details: { expected: '0', actual: '1' },
    });
    await expect(appendEvents(context, 'nope', [ev('acme')], 'any')).rejects.toMatchObject({ code: 'invalid_stream_id' });
    expect(fake.log).toHaveLength(2);
  });

  it('reads a stream (missing → []) and $all after a position, skipping system and foreign events', async () => {
    const fake = fakeClient();
    const client = fake as unknown as EventStoreDBClient;
    const context = { client, streamWindow: 1000, allWindow: 500, headPosition: async () => undefined };
    await appendEvents(context, 'tenant-acme', [ev('acme')], 'no_stream');
    fake.log.push({ ...fake.log[0]!, streamId: '$stats-x', type: '$statsCollected', position: { commit: 115n, prepare: 115n } });
    await appendEvents(context, 'conversation-acme.c1', [ev('acme'), ev('acme')], 'no_stream');
    await appendEvents(context, 'tenant-other', [ev('other')], 'no_stream');
    expect(await readStreamEvents(client, 'tenant-missing')).toEqual([]);
    expect((await readStreamEvents(client, 'conversation-acme.c1', { fromRevision: 1 })).map((e) => e.revision)).toEqual([1]);
    const all = await readAllEvents(client);
    expect(all.map((e) => e.streamId)).toEqual(['tenant-acme', 'conversation-acme.c1', 'conversation-acme.c1', 'tenant-other']);
    const after = await readAllEvents(client, { after: all[1]!.position });
    expect(after.map((e) => e.position)).toEqual([all[2]!.position, all[3]!.position]);
    expect((await readAllEvents(client, { filter: { tenantId: 'acme' }, maxCount: 2 })).map((e) => e.streamId)).toEqual(['tenant-acme', 'conversation-acme.c1']);
    fake.log.push({ ...fake.log[0]!, streamId: '$stats-x', type: '$statsCollected', position: { commit: 999n, prepare: 999n } });
    expect(await readHeadPosition(client)).toBe(all[3]!.position);
    expect(await readHeadPosition(fakeClient() as unknown as EventStoreDBClient)).toBeUndefined();
    // countAfter: user events only (the system events above are not counted), after a position, up to a limit
    expect(await countEventsAfter(client, undefined)).toBe(4);
    expect(await countEventsAfter(client, all[1]!.position)).toBe(2);
    expect(await countEventsAfter(client, all[0]!.position, 2)).toBe(2);
    expect(await countEventsAfter(client, all[3]!.position)).toBe(0);
    expect(await countEventsAfter(client, undefined, 0)).toBe(0);
  });

  it('counts past the first page of $all, resuming after the last event seen', async () => {
    const fake = fakeClient();
    const client = fake as unknown as EventStoreDBClient;
    const context = { client, streamWindow: 1000, allWindow: 500, headPosition: async () => undefined };
    for (let i = 0; i < 25; i++) await appendEvents(context, `conversation-acme.c${i}`, Array.from({ length: 100 }, () => ev('acme')), 'no_stream');
    expect(await countEventsAfter(client, undefined)).toBe(2_500);
    expect(await countEventsAfter(client, undefined, 1_234)).toBe(1_234);
  });

  it('subscribes in batches, resubscribes after a drop without repeats, and fails done when the handler throws', async () => {
    const streams: (PassThrough & { unsubscribe(): Promise<void>; from: unknown })[] = [];
    const client = {
      subscribeToAll(options: { fromPosition: unknown }) {
        const stream = Object.assign(new PassThrough({ objectMode: true }), { unsubscribe: async () => undefined, from: options.fromPosition });
        streams.push(stream);
        return stream;
      },
    } as unknown as EventStoreDBClient;
    const record = (commit: bigint, streamId = 'tenant-acme') => ({
      event: { id: randomUUID(), streamId, revision: 0n, type: 'T', data: {}, metadata: {}, created: new Date(), position: { commit, prepare: commit } },
    });
    const batches: bigint[][] = [];
    const sub = subscribeToEvents(client, { batchSize: 2, filter: { tenantId: 'acme' } }, async (events: readonly RecordedEvent[]) => {
      batches.push(events.map((e) => e.position));
      if (events.some((e) => e.position === 99n)) throw new Error('handler failed');
    });
    const first = streams[0]!;
    expect(first.from).toBe(START);
    for (const commit of [1n, 2n, 3n]) first.write(record(commit));
    first.write(record(4n, 'tenant-other'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sub.position).toBe(3n);
    first.destroy(new UnavailableError());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = streams[1]!;
    expect(second.from).toEqual({ commit: 4n, prepare: 4n });
    second.write(record(4n));
    second.write(record(5n));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches.flat()).toEqual([1n, 2n, 3n, 5n]);
    expect(batches.every((batch) => batch.length <= 2)).toBe(true);
    second.write(record(99n));
    await expect(sub.done).rejects.toThrow('handler failed');

    const closing = subscribeToEvents(client, {}, () => undefined);
    await closing.close();
    await expect(closing.done).resolves.toBeUndefined();
  });
});

describe('EventStoreDB adapter: hash chains (against the fake client)', () => {
  const setup = async () => {
    const fake = fakeClient();
    const client = fake as unknown as EventStoreDBClient;
    const context = { client, streamWindow: 1000, allWindow: 500, headPosition: async () => undefined };
    const appended = [ev('acme'), ev('acme'), ev('acme')];
    await appendEvents(context, 'tenant-acme', appended.slice(0, 1), 'no_stream');
    await appendEvents(context, 'tenant-acme', appended.slice(1), 0);
    await appendEvents(context, 'conversation-acme.c1', [ev('acme'), ev('acme')], 'any');
    await appendEvents(context, 'tenant-other', [ev('other')], 'any');
    const verify = async () => {
      const verifier = createChainVerifier();
      for (const event of await readAllEvents(client, { maxCount: 10_000 })) verifier.add(event);
      return verifier.finish();
    };
    return { fake, client, context, appended, verify };
  };

  it('links each event to the head it was appended on, with the same hashes as the SQL stores; an untouched log verifies', async () => {
    const { client, appended, verify } = await setup();
    let previous = GENESIS_HEX;
    const expected = appended.map((e) => (previous = linkHash(previous, { ...e, streamId: 'tenant-acme' })));
    const events = await readStreamEvents(client, 'tenant-acme');
    expect(events.map((e) => e.hash)).toEqual(expected);
    expect(events[0]!.metadata).not.toHaveProperty('$hash');
    expect(await verify()).toMatchObject({ events: 6, streams: 3, break: undefined });
  });

  it('appends with the exact head revision: racing appends with any re-link, exact ones conflict, the chain never forks', async () => {
    const { fake, context, verify } = await setup();
    const sent: unknown[] = [];
    const append = fake.appendToStream.bind(fake);
    fake.appendToStream = async (streamId, events, options) => {
      sent.push(options.expectedRevision);
      return append(streamId, events, options);
    };
    const racing = await Promise.allSettled(Array.from({ length: 8 }, () => appendEvents(context, 'tenant-acme', [ev('acme')], 'any')));
    expect(racing.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(sent.every((x) => typeof x === 'bigint')).toBe(true); // never ANY: always the head read
    const exact = await Promise.allSettled(Array.from({ length: 4 }, () => appendEvents(context, 'tenant-acme', [ev('acme')], 10)));
    expect(exact.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(exact.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'wrong_expected_revision' } });
    expect(await verify()).toMatchObject({ events: 15, break: undefined });
  });

  it('names the break when an event is edited, its metadata edited, removed, reordered or moved', async () => {
    const cases: [string, (log: Stored[]) => void, object][] = [
      ['data', (log) => void (log[1]!.data = { n: 2 }), { reason: 'hash_mismatch', streamId: 'tenant-acme', revision: 1 }],
      ['metadata', (log) => void ((log[3]!.metadata as Record<string, unknown>).actor = 'someone'), { reason: 'hash_mismatch', streamId: 'conversation-acme.c1', revision: 0 }],
      ['delete', (log) => void log.splice(1, 1).forEach(() => (log[1]!.revision = 2n)), { reason: 'missing_event', streamId: 'tenant-acme', revision: 1 }],
      ['reorder', (log) => {
        [log[1]!.revision, log[2]!.revision] = [log[2]!.revision, log[1]!.revision];
      }, { reason: 'hash_mismatch', streamId: 'tenant-acme', revision: 1 }],
      ['move', (log) => void (log[5]!.streamId = 'tenant-acme', log[5]!.revision = 3n), { reason: 'hash_mismatch', streamId: 'tenant-acme', revision: 3 }],
    ];
    for (const [name, tamper, broken] of cases) {
      const { fake, verify } = await setup();
      tamper(fake.log);
      expect((await verify()).break, name).toMatchObject(broken);
    }
  });
});
