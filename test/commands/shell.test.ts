import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import type { CommandShellDeps } from '../../commands/shell/handle-command.ts';
import { noCache } from '../../commands/shell/state-cache.ts';
import { conversationDecider } from '../../domain/conversation/index.ts';
import type { ConversationCommand, ConversationEvent } from '../../domain/conversation/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { ConversationId, TenantId } from '../../domain/shared/ids.ts';
import { openTestCodec } from '../support/codec.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

// The conversation aggregate, with its rules kept out of the way: an active enterprise tenant and
// agent messages (no quota), so these specs are about the shell.
const at = '2026-11-30T12:00:00.000Z';
const tenant = { status: 'active', tier: 'enterprise' } as const;
const start = (t: string): ConversationCommand => ({
  type: 'StartConversation',
  conversationId: 'c1' as ConversationId,
  tenantId: t as TenantId,
  channel: 'api',
  externalChatId: null,
  title: 'shell spec',
  tenant,
  at,
});
const post = (text: string, messageId: string = randomUUID()): ConversationCommand => ({
  type: 'PostMessage',
  messageId,
  role: 'agent',
  channel: 'api',
  text,
  tenant,
  messagesToday: 0,
  at,
});
const close: ConversationCommand = { type: 'CloseConversation', reason: 'done', tenant, at };
const posted = (text: string): ConversationEvent => ({ type: 'MessagePosted', data: { messageId: randomUUID(), role: 'agent', channel: 'api', text, external: null, inReplyTo: null, at } });

describe('command shell: read → fold → decide → encode → append → retry', () => {
  const schema = uniqueSchema('shell');
  let store: EventStore;
  let codec: EventCodec;
  let closeCodec: () => Promise<void>;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
    ({ codec, close: closeCodec } = await openTestCodec(schema));
  });
  afterAll(async () => {
    await store.close();
    await closeCodec();
    await dropSchema(schema);
  });
  const shellOn = (deps: Partial<CommandShellDeps> = {}) => createCommandShell({ store, codec, ...deps });
  const envelope = (t: string, command: ConversationCommand, extra = {}) => ({
    streamId: `conversation-${t}.c1`,
    command,
    metadata: { tenantId: t, actor: 'test', correlationId: 'corr' },
    ...extra,
  });
  /** Another writer, straight to the store, encoded as the platform would. */
  const writeBehindTheShell = async (t: string, store_: EventStore, texts: string[]) =>
    store_.append(
      `conversation-${t}.c1`,
      await codec.encode('conversation', `conversation-${t}.c1`, texts.map((text) => ({ id: randomUUID(), event: posted(text) })), meta(t)),
      'any',
    );
  const texts = async (t: string) => (await codec.decodeStream('conversation', await store.readStream(`conversation-${t}.c1`), 'open')).flatMap((e) => (e.type === 'MessagePosted' ? [e.data.text] : []));

  it('appends what the decider decides, encoded and encrypted, and returns the new state and position', async () => {
    const t = uniqueTenant();
    const shell = shellOn();
    const first = await shell.handle(conversationDecider, envelope(t, start(t)));
    const second = await shell.handle(conversationDecider, envelope(t, post('the secret plan')));
    expect(second.state).toMatchObject({ status: 'open', messageCount: 1 });
    expect(second.nextRevision).toBe(1);
    expect(second.position! > first.position!).toBe(true);
    const stored = await store.readStream(`conversation-${t}.c1`);
    expect(stored.map((e) => e.type)).toEqual(['ConversationStarted', 'MessagePosted.v2']);
    expect(JSON.stringify(stored.map((e) => e.data))).not.toContain('the secret plan');
    expect(stored[1]!.metadata).toMatchObject({ tenantId: t, actor: 'test', correlationId: 'corr', causationId: null, enc: 1 });
    expect(await texts(t)).toEqual(['the secret plan']);
  });

  it('appends nothing when the decider says the command is already satisfied', async () => {
    const t = uniqueTenant();
    const shell = shellOn();
    await shell.handle(conversationDecider, envelope(t, start(t)));
    await shell.handle(conversationDecider, envelope(t, post('once', 'm-1')));
    const again = await shell.handle(conversationDecider, envelope(t, post('once', 'm-1')));
    expect(again.events).toEqual([]);
    expect(await texts(t)).toEqual(['once']);
  });

  it('given an idempotency key, a repeat appends nothing and returns the first result, even from another process', async () => {
    const t = uniqueTenant();
    await shellOn().handle(conversationDecider, envelope(t, start(t)));
    const idempotency = { key: 'req-1', fingerprint: 'body-hash-a' };
    const first = await shellOn().handle(conversationDecider, envelope(t, post('one'), { idempotency }));
    const sameProcess = shellOn();
    await sameProcess.handle(conversationDecider, envelope(t, post('five')));
    const repeat = await sameProcess.handle(conversationDecider, envelope(t, post('one'), { idempotency }));
    expect(repeat).toMatchObject({ duplicate: true, position: first.position, nextRevision: first.nextRevision });
    await expect(
      sameProcess.handle(conversationDecider, envelope(t, post('nine'), { idempotency: { key: 'req-1', fingerprint: 'body-hash-b' } })),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(await texts(t)).toEqual(['one', 'five']);
  });

  it("given a caller's key that created one stream, when a restarted process sees it with another body on a new stream, then idempotency_key_reused and nothing is appended", async () => {
    const [a, b] = [uniqueTenant(), uniqueTenant()];
    const scope = `operator:${randomUUID()}`;
    const first = await shellOn().handle(conversationDecider, envelope(a, start(a), { idempotency: { key: 'create-1', fingerprint: 'body-a', scope } }));
    // a fresh shell: nothing in memory, only the store remembers
    const replay = await shellOn().handle(conversationDecider, envelope(a, start(a), { idempotency: { key: 'create-1', fingerprint: 'body-a', scope } }));
    expect(replay).toMatchObject({ duplicate: true, position: first.position });
    await expect(
      shellOn().handle(conversationDecider, envelope(b, start(b), { idempotency: { key: 'create-1', fingerprint: 'body-b', scope } })),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(await store.readStream(`conversation-${b}.c1`)).toEqual([]);
    // nothing of tenant b anywhere in the log (the store's head is shared with the other files running at once)
    expect(await store.readAll({ filter: { tenantId: b }, maxCount: 10 })).toEqual([]);
    // another caller's key of the same name is its own
    const other = await shellOn().handle(conversationDecider, envelope(b, start(b), { idempotency: { key: 'create-1', fingerprint: 'body-b', scope: `operator:${randomUUID()}` } }));
    expect(other.duplicate).toBe(false);
  });

  it('given a concurrent repeat of one key in two processes, then exactly one append lands', async () => {
    const t = uniqueTenant();
    await shellOn().handle(conversationDecider, envelope(t, start(t)));
    const idempotency = { key: 'webhook-42', fingerprint: 'x' };
    const results = await Promise.all([1, 2, 3, 4].map(() => shellOn().handle(conversationDecider, envelope(t, post('hi'), { idempotency }))));
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.position))).toHaveLength(1);
    expect(await texts(t)).toEqual(['hi']);
  });

  it('given a warm cache, when another process writes, then the next command decides on the fresh state', async () => {
    const t = uniqueTenant();
    const a = shellOn();
    const b = shellOn();
    await a.handle(conversationDecider, envelope(t, start(t)));
    await a.handle(conversationDecider, envelope(t, post('first')));
    await b.handle(conversationDecider, envelope(t, close));
    await expect(a.handle(conversationDecider, envelope(t, post('too late')))).rejects.toMatchObject({ code: 'conversation_closed' });
  });

  it('given a writer that slips in between read and append, then the conflict is caught and the command re-decided', async () => {
    const t = uniqueTenant();
    await shellOn().handle(conversationDecider, envelope(t, start(t)));
    let slipped = false;
    const racing: EventStore = {
      ...store,
      append: async (streamId, events, expected) => {
        if (!slipped) {
          slipped = true;
          await writeBehindTheShell(t, store, ['slipped in']);
        }
        return store.append(streamId, events, expected);
      },
    };
    const result = await shellOn({ store: racing }).handle(conversationDecider, envelope(t, post('mine')));
    expect(result.state).toMatchObject({ messageCount: 2 });
    expect(await texts(t)).toEqual(['slipped in', 'mine']);
  });

  it('gives up with a typed concurrency error after a bounded number of attempts, or at once when retry is unsafe', async () => {
    const t = uniqueTenant();
    await shellOn().handle(conversationDecider, envelope(t, start(t)));
    let attempts = 0;
    const alwaysRacing: EventStore = {
      ...store,
      append: async (streamId, events, expected) => {
        attempts++;
        await writeBehindTheShell(t, store, ['racer']);
        return store.append(streamId, events, expected);
      },
    };
    const shell = shellOn({ store: alwaysRacing, maxAttempts: 4, sleep: async () => undefined });
    await expect(shell.handle(conversationDecider, envelope(t, post('never')))).rejects.toMatchObject({ code: 'concurrency_conflict', kind: 'conflict' });
    expect(attempts).toBe(4);
    attempts = 0;
    await expect(shell.handle(conversationDecider, envelope(t, post('never'), { retryOnConflict: false }))).rejects.toMatchObject({
      code: 'concurrency_conflict',
    });
    expect(attempts).toBe(1);
  });

  it('folds a long stream in pages on a cold start and agrees with the cached path', async () => {
    const t = uniqueTenant();
    await shellOn().handle(conversationDecider, envelope(t, start(t)));
    for (let i = 0; i < 5; i++) await writeBehindTheShell(t, store, Array.from({ length: 1000 }, (_, k) => `m${i}-${k}`));
    const cold = await shellOn({ cache: noCache }).handle(conversationDecider, envelope(t, post('cold')));
    const warm = shellOn();
    await warm.state(conversationDecider, `conversation-${t}.c1`);
    const cached = await warm.handle(conversationDecider, envelope(t, post('cached')));
    expect(cold.state).toMatchObject({ messageCount: 5001 });
    expect(cached.state).toMatchObject({ messageCount: 5002 });
  });
});
