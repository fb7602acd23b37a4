import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessLiveFeed } from '../../adapters/live/in-process.ts';
import { startHttpServer } from '../../adapters/http/server.ts';
import type { Pusher } from '../../adapters/ws/pusher.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { eventually } from '../provisioning/support.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { newTenant, tokenFor } from '../http/support/journey.ts';
import { connect, pusherOn } from './support.ts';
import type { Frame } from './support.ts';

const positions = (frames: Frame[]) => frames.filter((f) => f.kind === 'event').map((f) => f.position!);

// The pushers on the real stack: PostgreSQL store, in-process bus, the HTTP API's auth, real sockets.
describe('WebSocket pushers /ws/tenant/{id}', () => {
  let h: ApiHarness;
  let operator: Client;
  let pusher: Pusher;
  const live = createInProcessLiveFeed();
  beforeAll(async () => {
    h = await startApiHarness();
    operator = client(h.baseUrl, h.operatorKey);
    pusher = await pusherOn(h, { maxBufferedBytes: 64 * 1024, heartbeatMs: 60_000 }, live);
  }, 60_000);
  afterAll(async () => {
    await pusher?.close();
    await h?.close();
  });

  /** The tenant's events in the store after `after`, as positions (the truth a socket must match). */
  const stored = async (tenantId: string, after?: string) =>
    (await h.storage.store.readAll({ filter: { tenantId }, ...(after ? { after: BigInt(after) } : {}) })).map((e) => e.position.toString());

  it("streams a tenant's events, decoded as the read API shows them, and never another tenant's", async () => {
    const a = await newTenant(operator);
    const b = await newTenant(operator);
    const token = await tokenFor(h.baseUrl, a.key);
    const socket = connect(h.baseUrl, a.tenantId, token);
    await socket.until((f) => f.kind === 'live');
    const asA = client(h.baseUrl, a.key);
    const asB = client(h.baseUrl, b.key);
    const theirs = ok(await asB.post<{ conversationId: string }>('/conversations', {}), 201);
    ok(await asB.post(`/conversations/${theirs.conversationId}/messages`, { text: 'secret of B' }), 201);
    const mine = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Site' }), 201);
    const posted = ok(await asA.post<{ position: string }>(`/conversations/${mine.conversationId}/messages`, { text: 'Hello from A' }), 201);
    await socket.until((f) => f.position === posted.position);
    const message = socket.events().find((f) => f.type === 'MessagePosted')!;
    expect(message.data).toMatchObject({ text: 'Hello from A', role: 'user' }); // personal data decrypted for its tenant
    expect(socket.events().every((f) => f.streamId!.includes(a.tenantId))).toBe(true);
    expect(JSON.stringify(socket.frames)).not.toContain('secret of B');
    socket.ws.close();
  });

  it('shows an API key issued while watching without its hash or its secret, as the key list does', async () => {
    const a = await newTenant(operator);
    const socket = connect(h.baseUrl, a.tenantId, a.key);
    await socket.until((f) => f.kind === 'live');
    const issued = ok(await client(h.baseUrl, a.key).post<{ key: string; keyId: string; position: string }>('/api-keys', { label: 'watched' }), 201);
    await socket.until((f) => f.position === issued.position);
    const frame = socket.events().find((f) => f.type === 'ApiKeyIssued')!;
    expect(frame.data).toMatchObject({ keyId: issued.keyId, label: 'watched', hash: '[secret]' });
    expect(JSON.stringify(socket.frames)).not.toContain(issued.key);
    socket.ws.close();
  });

  it('refuses another tenant as if it did not exist, a forged token, no credential and the operator, each with its close code; other sockets go on', async () => {
    const a = await newTenant(operator);
    const b = await newTenant(operator);
    const watching = connect(h.baseUrl, a.tenantId, a.key);
    await watching.until((f) => f.kind === 'live');
    const token = await tokenFor(h.baseUrl, a.key);
    const [forged, other, nobody, none, op, badId, badAfter, beyond] = [
      connect(h.baseUrl, a.tenantId, `${token.slice(0, -4)}AAAA`),
      connect(h.baseUrl, b.tenantId, token),
      connect(h.baseUrl, `never-${randomUUID().slice(0, 8)}`, token),
      connect(h.baseUrl, a.tenantId, undefined),
      connect(h.baseUrl, a.tenantId, h.operatorKey),
      connect(h.baseUrl, 'NOT_A_TENANT', token),
      connect(h.baseUrl, a.tenantId, token, '?after=-1'),
      // a position past the log's end (saved before a restore): refused, not a socket that stays silent
      connect(h.baseUrl, a.tenantId, token, '?after=99999999999999999999'),
    ];
    expect(await forged.closed).toMatchObject({ code: 4401 });
    // another tenant looks exactly like one that does not exist (DESIGN: 404, never 403)
    expect(await other.closed).toEqual({ code: 4404, reason: expect.stringContaining('tenant_not_found') });
    expect(await nobody.closed).toEqual(await other.closed);
    expect(await none.closed).toEqual({ code: 4401, reason: expect.stringContaining('credentials_required') });
    expect(await op.closed).toMatchObject({ code: 4403 });
    expect(await badId.closed).toMatchObject({ code: 4400 });
    expect(await badAfter.closed).toMatchObject({ code: 4400 });
    expect(await beyond.closed).toEqual({ code: 4400, reason: expect.stringContaining('after_beyond_log') });
    for (const refused of [forged, other, nobody, none, op, badId, badAfter, beyond]) expect(refused.events()).toEqual([]);
    const posted = ok(await client(h.baseUrl, a.key).post<{ position: string }>('/conversations', {}), 201);
    await watching.until((f) => f.position === posted.position);
    watching.ws.close();
  });

  it('closes a malformed frame with 1007, a binary one with 1003 and an oversized one with 1009; the others stay', async () => {
    const a = await newTenant(operator);
    const sockets = [0, 1, 2, 3].map(() => connect(h.baseUrl, a.tenantId, a.key));
    await Promise.all(sockets.map((s) => s.until((f) => f.kind === 'live')));
    const [malformed, binary, oversized, bystander] = sockets as [typeof sockets[0], typeof sockets[0], typeof sockets[0], typeof sockets[0]];
    malformed.ws.send('{"type":"subscribe","tenant":"other"}');
    binary.ws.send(Buffer.from([1, 2, 3]));
    oversized.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(10_000) }));
    bystander.ws.send('{"type":"ping"}');
    expect(await malformed.closed).toMatchObject({ code: 1007 });
    expect(await binary.closed).toMatchObject({ code: 1003 });
    expect((await oversized.closed).code).toBe(1009);
    await bystander.until((f) => f.kind === 'pong');
    const posted = ok(await client(h.baseUrl, a.key).post<{ position: string }>('/conversations', {}), 201);
    await bystander.until((f) => f.position === posted.position);
    bystander.ws.close();
  });

  it('resumes from the last position: what was missed, then live, without a gap or a double across the seam', async () => {
    // enterprise: the writer below posts as fast as it can, which on a quick machine is past the free tier's 60 a minute
    const a = await newTenant(operator, 'enterprise');
    const asA = client(h.baseUrl, a.key);
    const first = connect(h.baseUrl, a.tenantId, a.key);
    await first.until((f) => f.kind === 'live');
    const c = ok(await asA.post<{ conversationId: string; position: string }>('/conversations', {}), 201);
    await first.until((f) => f.position === c.position);
    const last = positions(first.frames).at(-1)!;
    first.ws.close();
    await first.closed;
    // missed while away
    for (let i = 0; i < 5; i++) ok(await asA.post(`/conversations/${c.conversationId}/messages`, { text: `missed ${i}` }), 201);
    // and more appended while the second socket catches up and goes live
    let writing = true;
    const writer = (async () => {
      let i = 0;
      while (writing) ok(await asA.post(`/conversations/${c.conversationId}/messages`, { text: `during ${i++}` }), 201);
    })();
    const second = connect(h.baseUrl, a.tenantId, a.key, `?after=${last}`);
    await second.until((f) => f.kind === 'live');
    await new Promise((r) => setTimeout(r, 300));
    writing = false;
    await writer;
    const final = ok(await asA.post<{ position: string }>(`/conversations/${c.conversationId}/messages`, { text: 'final' }), 201);
    await second.until((f) => f.position === final.position);
    expect(second.frames[0]).toEqual({ kind: 'hello', tenantId: a.tenantId, after: last });
    expect(positions(second.frames)).toEqual(await stored(a.tenantId, last));
    expect(second.events().filter((f) => String(f.data!.text).startsWith('during')).length).toBeGreaterThan(0);
    second.ws.close();
  });

  it('cuts off a client that does not read (4408) and keeps serving the tenant\'s other sockets', async () => {
    const a = await newTenant(operator, 'enterprise');
    const slow = connect(h.baseUrl, a.tenantId, a.key);
    const fast = connect(h.baseUrl, a.tenantId, a.key);
    await Promise.all([slow.until((f) => f.kind === 'live'), fast.until((f) => f.kind === 'live')]);
    const underlying = (slow.ws as unknown as { _socket: Socket })._socket;
    underlying.pause(); // stops reading: the kernel buffers fill, then the pusher's
    const conversation = ok(await client(h.baseUrl, a.key).post<{ conversationId: string }>('/conversations', {}), 201);
    const text = 'x'.repeat(15_000);
    const before = pusher.stats().cutOff;
    let last = '';
    for (let i = 0; i < 2_000 && pusher.stats().cutOff === before; i++)
      last = await postAsAgent(conversation.conversationId, a.tenantId, text);
    expect(pusher.stats().cutOff).toBe(before + 1);
    underlying.resume();
    expect(await slow.closed).toEqual({ code: 4408, reason: expect.stringContaining('slow_consumer') });
    await fast.until((f) => f.position === last, 60_000);
    fast.ws.close();
  }, 180_000);

  it("forwards live frames to that tenant's sockets only, without touching positions", async () => {
    const a = await newTenant(operator);
    const b = await newTenant(operator);
    const sa = connect(h.baseUrl, a.tenantId, a.key);
    const sb = connect(h.baseUrl, b.tenantId, b.key);
    await Promise.all([sa.until((f) => f.kind === 'live'), sb.until((f) => f.kind === 'live')]);
    await live.publish(a.tenantId, { kind: 'agent.partial', conversationId: 'c1', inReplyTo: 'm1', text: 'Thinking', seq: 1 });
    await sa.until((f) => f.kind === 'agent.partial');
    expect(sa.frames.at(-1)).toEqual({ kind: 'agent.partial', conversationId: 'c1', inReplyTo: 'm1', text: 'Thinking', seq: 1 });
    sb.ws.send('{"type":"ping"}');
    await sb.until((f) => f.kind === 'pong');
    expect(sb.frames.some((f) => f.kind === 'agent.partial')).toBe(false);
    sa.ws.close();
    sb.ws.close();
  });

  it('a key revoked while its sockets are open closes them (4401) at the next heartbeat, a token made from it too; other keys\' sockets stay', async () => {
    const a = await newTenant(operator);
    const other = ok(await operator.post<{ keyId: string; key: string }>(`/tenants/${a.tenantId}/api-keys`, { label: 'stays' }), 201);
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    const beating = await pusherOn(h, { heartbeatMs: 1_000 }, live, server.server);
    try {
      const token = await tokenFor(h.baseUrl, a.key);
      const [byKey, byToken, staying] = [connect(server.url, a.tenantId, a.key), connect(server.url, a.tenantId, token), connect(server.url, a.tenantId, other.key)];
      await Promise.all([byKey, byToken, staying].map((s) => s.until((f) => f.kind === 'live')));
      ok(await client(h.baseUrl, other.key).delete(`/api-keys/${a.keyId}`), 200);
      for (const revoked of [byKey, byToken]) expect(await revoked.closed).toEqual({ code: 4401, reason: expect.stringContaining('api_key_revoked') });
      // the other key's socket still gets the tenant's events
      const posted = ok(await client(h.baseUrl, other.key).post<{ position: string }>('/conversations', {}), 201);
      await staying.until((f) => f.position === posted.position);
      expect(staying.ws.readyState).toBe(staying.ws.OPEN);
      staying.ws.close();
    } finally {
      await beating.close();
      await server.close();
    }
  }, 30_000);

  it("refuses a tenant's socket past its bound (4429) without touching other tenants; a closed one makes room", async () => {
    const [a, b] = [await newTenant(operator), await newTenant(operator)];
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    const bounded = await pusherOn(h, { maxSocketsPerTenant: 2 }, live, server.server);
    try {
      const open = [connect(server.url, a.tenantId, a.key), connect(server.url, a.tenantId, a.key)];
      await Promise.all(open.map((s) => s.until((f) => f.kind === 'live')));
      const third = connect(server.url, a.tenantId, a.key);
      expect(await third.closed).toEqual({ code: 4429, reason: expect.stringContaining('too_many_sockets') });
      expect(third.events()).toEqual([]);
      const other = connect(server.url, b.tenantId, b.key);
      await other.until((f) => f.kind === 'live');
      open[0]!.ws.close();
      await open[0]!.closed;
      const again = connect(server.url, a.tenantId, a.key);
      await again.until((f) => f.kind === 'live');
      for (const s of [open[1]!, other, again]) s.ws.close();
    } finally {
      await bounded.close();
      await server.close();
    }
  });

  it('a second pusher instance sees every event too (each its own broadcast consumer)', async () => {
    const a = await newTenant(operator);
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    const second = await pusherOn(h, {}, live, server.server);
    try {
      const one = connect(h.baseUrl, a.tenantId, a.key);
      const two = connect(server.url, a.tenantId, a.key);
      await Promise.all([one.until((f) => f.kind === 'live'), two.until((f) => f.kind === 'live')]);
      const posted = ok(await client(h.baseUrl, a.key).post<{ position: string }>('/conversations', {}), 201);
      await Promise.all([one.until((f) => f.position === posted.position), two.until((f) => f.position === posted.position)]);
      expect(positions(two.frames)).toEqual(positions(one.frames));
      one.ws.close();
      two.ws.close();
    } finally {
      await second.close();
      await server.close();
    }
  });

  it('a socket that goes while it catches up is not left in its tenant\'s feed: the feed stops with the tenant\'s last socket', async () => {
    const a = await newTenant(operator);
    await newTenant(operator); // the log's head moves past a's last event
    const last = (await stored(a.tenantId)).at(-1)!;
    // the real store, with catch-up reads held on demand so the client can leave during one
    let hold: Promise<void> | undefined;
    let release = () => undefined as void;
    let held = 0;
    const store: EventStore = Object.assign(Object.create(h.storage.store) as EventStore, {
      readAll: async (...args: Parameters<EventStore['readAll']>) => {
        if (hold) {
          held += 1;
          await hold;
        }
        return h.storage.store.readAll(...args);
      },
    });
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    const own = await pusherOn(h, {}, live, server.server, store);
    try {
      const staying = connect(server.url, a.tenantId, a.key);
      await staying.until((f) => f.kind === 'live');
      hold = new Promise<void>((resolve) => (release = resolve));
      // a dashboard reconnecting from a's last event: behind the feed (which starts at the log's head), so it catches up,
      // and the page it reads is empty (nothing of a's is newer), so nothing is sent that would notice the socket gone
      const leaving = connect(server.url, a.tenantId, a.key, `?after=${last}`);
      await eventually('the catch-up read', () => (held > 0 ? true : undefined));
      leaving.ws.close();
      await leaving.closed;
      await eventually('the pusher saw it go', () => (own.stats().connections === 1 ? true : undefined));
      hold = undefined;
      release();
      staying.ws.close();
      await staying.closed;
      await eventually('the tenant feed stopped', () => (own.stats().tenants === 0 ? true : undefined), 3_000);
      expect(own.stats()).toEqual({ connections: 0, tenants: 0, cutOff: 0 });
    } finally {
      release();
      await own.close();
      await server.close();
    }
  });

  it('drops a peer that stops answering pings; one that answers stays', async () => {
    const a = await newTenant(operator);
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', readiness: () => ({ ready: true }) });
    const beating = await pusherOn(h, { heartbeatMs: 300 }, live, server.server);
    try {
      const dead = connect(server.url, a.tenantId, a.key, '', { autoPong: false });
      const alive = connect(server.url, a.tenantId, a.key);
      await Promise.all([dead.until((f) => f.kind === 'live'), alive.until((f) => f.kind === 'live')]);
      expect((await dead.closed).code).toBe(1006); // destroyed, no close handshake: the peer is gone
      expect(beating.stats().connections).toBe(1);
      const posted = ok(await client(h.baseUrl, a.key).post<{ position: string }>('/conversations', {}), 201);
      await alive.until((f) => f.position === posted.position);
      alive.ws.close();
    } finally {
      await beating.close();
      await server.close();
    }
  });

  const postAsAgent = async (conversationId: string, tenantId: string, text: string): Promise<string> => {
    const { postMessage } = await import('../../commands/conversations/post-message.ts');
    const { asTenantId } = await import('../../domain/shared/ids.ts');
    const caller = { tenantId: asTenantId(tenantId), actor: 'agent:test', correlationId: randomUUID() };
    const result = await postMessage(h.platform.ports, caller, conversationId, { text }, { role: 'agent' });
    return String(result.position);
  };
});
