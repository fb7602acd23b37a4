import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore, NewEvent, RecordedEvent } from '../../domain/ports/event-store.ts';
import { verifyStore } from '../../adapters/audit/check.ts';
import { GENESIS_HEX, linkHash } from '../../adapters/event-store/chain.ts';
import { gate, untilVisible, waitFor } from '../support/gate.ts';
import { meta, newEvent, uniqueTenant } from '../support/ids.ts';

export interface ContractHarness {
  /** A new store client on the same storage; `beforeCommit` holds each append's commit. */
  open(options?: { beforeCommit?: () => Promise<void> }): Promise<EventStore>;
  /** Can two clients commit while a third holds its commit (false for single-backend PGlite)? */
  readonly concurrentCommits: boolean;
  /** Why the held-commit case cannot run here, if it cannot. */
  readonly holdCommitUnsupported?: string;
  readonly heldCommitRuns: number;
  teardown(): Promise<void>;
}

const collect = (store: EventStore, options: Parameters<EventStore['subscribe']>[0] = {}) => {
  const seen: RecordedEvent[] = [];
  const subscription = store.subscribe(options, (events) => {
    seen.push(...events);
  });
  return { seen, subscription };
};

const expectStrictlyIncreasing = (positions: bigint[]) => {
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
};

/**
 * The contract every store passes. `skipped` (the reason a store cannot be reached here) reports
 * every case as skipped, with the reason in the suite's name, instead of passing vacuously.
 */
export const eventStoreContract = (name: string, makeHarness: () => Promise<ContractHarness>, skipped?: string) => {
  describe.skipIf(skipped !== undefined)(`EventStore contract: ${name}${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
    let harness: ContractHarness;
    let store: EventStore;
    beforeAll(async () => {
      harness = await makeHarness();
      if (!harness.holdCommitUnsupported && !(Number.isInteger(harness.heldCommitRuns) && harness.heldCommitRuns >= 1))
        throw new Error(`heldCommitRuns must be a whole number ≥ 1 (got ${harness.heldCommitRuns}): fewer runs would make the held-commit case vacuous`);
      store = await harness.open();
    });
    afterAll(async () => {
      await store?.close();
      await harness?.teardown();
    });

    it('appends and reads back a stream with revisions, increasing positions and JSON intact', async () => {
      const t = uniqueTenant();
      const first = await store.append(`tenant-${t}`, [newEvent(t, 'A', { text: 'héllo ✓', n: 1 })], 'no_stream');
      const second = await store.append(`tenant-${t}`, [newEvent(t, 'B'), newEvent(t, 'C', [1, null])], 0);
      expect(first).toMatchObject({ nextRevision: 0, duplicate: false });
      expect(second).toMatchObject({ nextRevision: 2, duplicate: false });
      expect(second.position > first.position).toBe(true);
      const events = await store.readStream(`tenant-${t}`);
      expect(events.map((e) => [e.type, e.revision])).toEqual([['A', 0], ['B', 1], ['C', 2]]);
      expect(events[0]!.data).toEqual({ text: 'héllo ✓', n: 1 });
      expect(events[2]!.data).toEqual([1, null]);
      expect(events[0]!.metadata.tenantId).toBe(t);
      expectStrictlyIncreasing(events.map((e) => e.position));
      expect(await store.readStream(`tenant-${t}`, { fromRevision: 1, maxCount: 1 })).toHaveLength(1);
      expect(await store.readStream(`tenant-${uniqueTenant()}`)).toEqual([]);
    });

    it('checks the expected revision: no_stream, stream_exists, any and exact numbers', async () => {
      const t = uniqueTenant();
      const s = `tenant-${t}`;
      await expect(store.append(s, [newEvent(t)], 'stream_exists')).rejects.toMatchObject({ code: 'wrong_expected_revision' });
      await expect(store.append(s, [newEvent(t)], 3)).rejects.toMatchObject({ code: 'wrong_expected_revision' });
      await store.append(s, [newEvent(t)], 'no_stream');
      await expect(store.append(s, [newEvent(t)], 'no_stream')).rejects.toMatchObject({ code: 'wrong_expected_revision' });
      await expect(store.append(s, [newEvent(t)], 'stream_exists')).resolves.toMatchObject({ nextRevision: 1 });
      await expect(store.append(s, [newEvent(t)], 'any')).resolves.toMatchObject({ nextRevision: 2 });
      await expect(store.append(s, [newEvent(t)], 1)).rejects.toMatchObject({ code: 'wrong_expected_revision', kind: 'conflict' });
      await expect(store.append(s, [newEvent(t)], 2)).resolves.toMatchObject({ nextRevision: 3 });
      expect(await store.readStream(s)).toHaveLength(4);
    });

    it('lets exactly one of 50 concurrent appends with the same expected revision win', async () => {
      const t = uniqueTenant();
      const s = `conversation-${t}.race`;
      await store.append(s, [newEvent(t, 'Start')], 'no_stream');
      const clients = [store, await harness.open()];
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => clients[i % 2]!.append(s, [newEvent(t, 'Racer', { i })], 0)),
      );
      await clients[1]!.close();
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(49);
      for (const l of lost) expect(l.reason).toMatchObject({ code: 'wrong_expected_revision' });
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('treats a repeated event id as already written: nothing appended, the first result returned', async () => {
      const t = uniqueTenant();
      const s = `knight-${t}.k1`;
      const events = [newEvent(t, 'KnightRequested'), newEvent(t, 'KnightProvisioningStarted')];
      const first = await store.append(s, events, 'no_stream');
      const again = await store.append(s, events, 'no_stream');
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await store.append(s, events, 'any')).toEqual({ ...first, duplicate: true });
      expect(await store.readStream(s)).toHaveLength(2);
      await expect(store.append(s, [events[0]!, newEvent(t, 'Other')], 'any')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
      await expect(store.append(`knight-${t}.k2`, [events[0]!], 'any')).rejects.toMatchObject({ code: 'idempotency_mismatch' });
      expect(await store.readStream(s)).toHaveLength(2);
      expect(await store.readStream(`knight-${t}.k2`)).toHaveLength(0);
    });

    it('rejects bad appends with a typed error and writes nothing', async () => {
      const t = uniqueTenant();
      const s = `tenant-${t}`;
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const bad: Array<[string, () => Promise<unknown>]> = [
        ['negative revision', () => store.append(s, [newEvent(t)], -1)],
        ['fractional revision', () => store.append(s, [newEvent(t)], 1.5)],
        ['NaN revision', () => store.append(s, [newEvent(t)], Number.NaN)],
        ['string revision', () => store.append(s, [newEvent(t)], '3' as never)],
        ['over 1 MiB', () => store.append(s, [newEvent(t, 'Big', { blob: 'x'.repeat(1024 * 1024) })], 'any')],
        ['bigint data', () => store.append(s, [newEvent(t, 'X', { n: 1n })], 'any')],
        ['circular data', () => store.append(s, [newEvent(t, 'X', circular)], 'any')],
        ['function data', () => store.append(s, [newEvent(t, 'X', { f: () => 1 })], 'any')],
        ['NUL in text', () => store.append(s, [newEvent(t, 'X', { s: 'a\u0000b' })], 'any')],
        ['no events', () => store.append(s, [], 'any')],
        ['id not a UUID', () => store.append(s, [{ ...newEvent(t), id: 'nope' }], 'any')],
      ];
      for (const [why, attempt] of bad) {
        await expect(attempt(), why).rejects.toMatchObject({ code: 'invalid_append', kind: 'validation' });
      }
      for (const stream of ['tenant', 'foo-bar', `tenant-${t.toUpperCase()}`, `conversation-${t}`, `knight-${t}.a/b`, `conversation-${t}.`]) {
        await expect(store.append(stream, [newEvent(t)], 'any'), stream).rejects.toMatchObject({ code: 'invalid_stream_id' });
      }
      expect(await store.readStream(s)).toEqual([]);
      expect(await store.readAll({ filter: { tenantId: t } })).toEqual([]);
    });

    it("reads one tenant's history across categories, in order, with category and type filters", async () => {
      const [a, b] = [uniqueTenant(), uniqueTenant()];
      const written: string[] = [];
      let last = -1n;
      for (let i = 0; i < 5; i++) {
        for (const t of [a, b]) {
          for (const stream of [`tenant-${t}`, `conversation-${t}.c${i % 2}`, `knight-${t}.k1`]) {
            const e = newEvent(t, stream.split('-')[0] === 'knight' ? 'KnightThing' : 'Other', { i });
            last = (await store.append(stream, [e], 'any')).position;
            if (t === a) written.push(e.id);
          }
        }
      }
      await untilVisible(store, last);
      const history = await store.readAll({ filter: { tenantId: a } });
      expect(history.map((e) => e.id)).toEqual(written);
      expectStrictlyIncreasing(history.map((e) => e.position));
      const paged: RecordedEvent[] = [];
      for (let after: bigint | undefined; ; ) {
        const page = await store.readAll({ after, filter: { tenantId: a }, maxCount: 4 });
        if (page.length === 0) break;
        paged.push(...page);
        after = page.at(-1)!.position;
      }
      expect(paged.map((e) => e.id)).toEqual(written);
      const knights = await store.readAll({ filter: { tenantId: a, categories: ['knight'] } });
      expect(knights).toHaveLength(5);
      expect(knights.every((e) => e.streamId === `knight-${a}.k1`)).toBe(true);
      const typed = await store.readAll({ filter: { tenantId: b, eventTypes: ['KnightThing'] } });
      expect(typed.map((e) => e.streamId)).toEqual(Array(5).fill(`knight-${b}.k1`));
    });

    it('delivers catch-up then live events across the seam with no gap and no double', async () => {
      const t = uniqueTenant();
      const head = await store.headPosition();
      const ids: string[] = [];
      const write = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const e = newEvent(t, 'Seam', { i });
          ids.push(e.id);
          await store.append(`conversation-${t}.s${i % 7}`, [e], 'any');
        }
      };
      await write(150);
      const seen: RecordedEvent[] = [];
      const subscription = store.subscribe({ after: head, filter: { tenantId: t }, batchSize: 20 }, async (events) => {
        seen.push(...events);
        await new Promise((resolve) => setTimeout(resolve, 2)); // a slow consumer keeps the seam open longer
      });
      await write(150); // lands while the subscriber is still catching up
      await waitFor(() => seen.length >= 300, 20_000, '300 events');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await subscription.close();
      expect(seen.map((e) => e.id)).toEqual(ids);
      expectStrictlyIncreasing(seen.map((e) => e.position));
    });

    it('resumes from its checkpoint after the store client is closed and reopened mid-subscription', async () => {
      const t = uniqueTenant();
      const head = await store.headPosition();
      const client = await harness.open();
      const ids: string[] = [];
      const write = async (on: EventStore, n: number) => {
        for (let i = 0; i < n; i++) {
          const e = newEvent(t, 'Resume', { i });
          ids.push(e.id);
          await on.append(`tenant-${t}`, [e], 'any');
        }
      };
      await write(store, 30);
      const first = collect(client, { after: head, filter: { tenantId: t }, batchSize: 7 });
      await waitFor(() => first.seen.length >= 14, 10_000, 'first events');
      const checkpoint = first.subscription.position;
      await client.close(); // the client goes away mid-stream
      await write(store, 30);
      const reopened = await harness.open();
      const second = collect(reopened, { after: checkpoint, filter: { tenantId: t } });
      await write(store, 10);
      const before = first.seen.filter((e) => e.position <= checkpoint!);
      await waitFor(() => before.length + second.seen.length >= 70, 10_000, 'all events after reopen');
      await second.subscription.close();
      await reopened.close();
      expect([...before, ...second.seen].map((e) => e.id)).toEqual(ids);
    });

    it('holds back later commits while an earlier append has not committed, then delivers all in order', async (ctx) => {
      if (harness.holdCommitUnsupported) {
        console.warn(`[${name}] held-commit case skipped: ${harness.holdCommitUnsupported}`);
        ctx.skip(harness.holdCommitUnsupported);
      }
      for (let run = 0; run < harness.heldCommitRuns; run++) {
        const t = uniqueTenant('held');
        const head = await store.headPosition();
        const hold = gate();
        const inHook = gate();
        const holder = await harness.open({
          beforeCommit: async () => {
            inHook.open();
            await hold.opened;
          },
        });
        const subscriber = collect(store, { after: head, filter: { tenantId: t } });
        const heldEvent = newEvent(t, 'Held');
        const held = holder.append(`tenant-${t}`, [heldEvent], 'any');
        await inHook.opened;
        const later = Array.from({ length: 100 }, (_, i) => newEvent(t, 'Later', { i }));
        const laterAppends = Promise.all(later.map((e, i) => store.append(`conversation-${t}.c${i}`, [e], 'no_stream')));
        if (harness.concurrentCommits) {
          await laterAppends; // all 100 committed while the first is still open
          await new Promise((resolve) => setTimeout(resolve, 30));
          expect(subscriber.seen, 'nothing may be delivered past an open transaction').toHaveLength(0);
        }
        hold.open();
        const heldResult = await held;
        const laterResults = await laterAppends;
        await waitFor(() => subscriber.seen.length >= 101, 10_000, '101 events');
        await new Promise((resolve) => setTimeout(resolve, 20));
        await subscriber.subscription.close();
        await holder.close();
        expect(subscriber.seen).toHaveLength(101);
        expect(new Set(subscriber.seen.map((e) => e.id))).toEqual(new Set([heldEvent.id, ...later.map((e) => e.id)]));
        expectStrictlyIncreasing(subscriber.seen.map((e) => e.position));
        expect(subscriber.seen[0]!.id).toBe(heldEvent.id);
        expect(subscriber.seen.map((e) => e.position)).toEqual(
          [heldResult, ...laterResults].map((r) => r.position).sort((x, y) => (x < y ? -1 : 1)),
        );
      }
    });

    it('counts the events after a position, up to a limit, without reading them out', async () => {
      const t = uniqueTenant();
      // a marker of our own, once visible, is where counting starts (other transactions can hold the head back)
      const head = (await store.append(`tenant-${t}`, [newEvent(t, 'Marker')], 'no_stream')).position;
      await untilVisible(store, head);
      const results = [];
      for (const stream of [`tenant-${t}`, `conversation-${t}.c1`, `knight-${t}.k1`]) results.push(await store.append(stream, [newEvent(t, 'Counted')], 'any'));
      const last = results.at(-1)!.position;
      await untilVisible(store, last);
      expect(await store.countAfter(head)).toBe(3);
      expect(await store.countAfter(head, { limit: 2 })).toBe(2);
      expect(await store.countAfter(head, { limit: 0 })).toBe(0);
      expect(await store.countAfter(results[0]!.position)).toBe(2);
      expect(await store.countAfter(last)).toBe(0);
      expect(await store.countAfter(undefined)).toBeGreaterThanOrEqual(3);
    });

    it('keeps metadata and reports the head position', async () => {
      const t = uniqueTenant();
      const m = meta(t, { actor: 'apikey:abc', causationId: randomUUID(), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      const result = await store.append(`tenant-${t}`, [{ id: randomUUID(), type: 'M', data: null, metadata: m }], 'any');
      const [event] = await store.readStream(`tenant-${t}`);
      expect(event!.metadata).toEqual(m);
      expect(event!.data).toBeNull();
      expect(event!.recordedAt).toBeInstanceOf(Date);
      // the head covers the append once every transaction begun before it has ended (other tests' may run)
      await untilVisible(store, result.position);
    });

    /** The chain the events should carry, computed from what was appended (no store involved). */
    const expectedChain = (streamId: string, events: readonly NewEvent[]) => {
      let previous = GENESIS_HEX;
      return events.map((e) => (previous = linkHash(previous, { ...e, streamId, data: e.data ?? null })));
    };

    it('chains each stream: every event carries sha256(previous hash ‖ content), the same on every store', async () => {
      const t = uniqueTenant();
      const streamId = `conversation-${t}.c1`;
      // keys in an order no store keeps, text outside ASCII, numbers a store may re-spell
      const appended = [
        newEvent(t, 'A', { z: 1, a: { y: [1.5, 'é'], b: null }, n: 1e21 }),
        newEvent(t, 'B', { text: 'héllo ✓ \u2028' }),
        newEvent(t, 'C'),
      ];
      await store.append(streamId, appended.slice(0, 1), 'no_stream');
      const last = await store.append(streamId, appended.slice(1), 0);
      await untilVisible(store, last.position);
      const events = await store.readStream(streamId);
      expect(events.map((e) => e.hash)).toEqual(expectedChain(streamId, appended));
      const all = await store.readAll({ filter: { tenantId: t } });
      expect(all.map((e) => e.hash)).toEqual(events.map((e) => e.hash));
      const report = await verifyStore(store, { tenantId: t });
      expect(report).toMatchObject({ events: 3, streams: 1, break: undefined });
      expect(report.digest!.heads).toEqual([{ streamId, revision: 2, hash: events[2]!.hash }]);
    });

    it('reads in stored form (where the store offers it) exactly what readAll reads, in the same order', async () => {
      if (!store.readAllStored) return;
      const t = uniqueTenant();
      await store.append(`tenant-${t}`, [newEvent(t, 'A', { z: 1, a: { y: [1.5, 'é \\ "'] } }), newEvent(t, 'B')], 'no_stream');
      const last = await store.append(`conversation-${t}.c1`, [newEvent(t, 'C', { text: 'x' })], 'no_stream');
      await untilVisible(store, last.position);
      const read = await store.readAll({ filter: { tenantId: t } });
      const stored = await store.readAllStored({ filter: { tenantId: t } });
      expect(stored.map((e) => ({ ...e, position: BigInt(e.position), data: JSON.parse(e.data) as unknown, metadata: JSON.parse(e.metadata) as unknown, recordedAt: new Date(e.recordedAt) }))).toEqual(read);
      expect(await store.readAllStored({ filter: { tenantId: t }, after: read[0]!.position, maxCount: 1 })).toMatchObject([{ id: read[1]!.id }]);
      expect((await store.readAllStored({ filter: { tenantId: t, categories: ['conversation'], eventTypes: ['C', "it's \\ not"] } })).map((e) => e.id)).toEqual([read[2]!.id]);
      expect(await store.readAllStored({ filter: { tenantId: `${t}' OR ''='` } })).toEqual([]);
      expect(await store.readAllStored({ filter: { tenantId: `${t}\\' OR 1=1 --` } })).toEqual([]);
    });

    it('keeps the chain linear when many appends race onto one stream head', async () => {
      const t = uniqueTenant();
      const streamId = `tenant-${t}`;
      await store.append(streamId, [newEvent(t, 'First')], 'no_stream');
      const racing = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.append(streamId, [newEvent(t, 'Any', { i }), newEvent(t, 'Any2', { i })], 'any')));
      const exact = await Promise.allSettled(Array.from({ length: 10 }, () => store.append(streamId, [newEvent(t, 'Exact')], 40)));
      expect(racing.every((r) => r.status === 'fulfilled')).toBe(true);
      expect(exact.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const positions = [...racing, ...exact].flatMap((r) => (r.status === 'fulfilled' ? [r.value.position] : []));
      await untilVisible(store, positions.reduce((max, p) => (p > max ? p : max), -1n));
      const events = await store.readStream(streamId);
      expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 42 }, (_, i) => i));
      expect(new Set(events.map((e) => e.hash)).size).toBe(42);
      expect(await verifyStore(store, { tenantId: t })).toMatchObject({ events: 42, break: undefined });
    });
  });
};
