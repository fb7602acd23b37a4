import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pusher } from '../../adapters/ws/pusher.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { meta } from '../support/ids.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { connect, pusherOn } from './support.ts';

// Review: client mistakes in the path, and an event the codec cannot decode, on the real stack.
describe('WebSocket pushers: bad input', () => {
  let h: ApiHarness;
  let pusher: Pusher;
  beforeAll(async () => {
    h = await startApiHarness({}, { projector: 'none' });
    pusher = await pusherOn(h, { heartbeatMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await pusher?.close();
    await h?.close();
  });

  it('refuses a tenant id with a broken percent-encoding with 4400 (no unhandled rejection, no socket left open)', async () => {
    const socket = connect(h.baseUrl, '%E0%A4%A', 'whatever');
    const closed = await Promise.race([socket.closed, new Promise((r) => setTimeout(() => r('still open'), 3_000))]);
    expect(closed).toMatchObject({ code: 4400 });
  });
});

describe('WebSocket pushers: an event that cannot be decoded', () => {
  let h: ApiHarness;
  let operator: Client;
  let pusher: Pusher;
  beforeAll(async () => {
    h = await startApiHarness();
    operator = client(h.baseUrl, h.operatorKey);
    pusher = await pusherOn(h, { heartbeatMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await pusher?.close();
    await h?.close();
  });

  it('does not freeze the tenant\'s live sockets forever: later events arrive, or the socket is closed', async () => {
    const a = await newTenant(operator);
    const socket = connect(h.baseUrl, a.tenantId, a.key);
    await socket.until((f) => f.kind === 'live');
    // an event the codec refuses (as the projector-halt test makes one): a MessagePosted whose text is a number
    const stream = `conversation-${a.tenantId}.c1`;
    const at = '2026-11-30T12:00:00.000Z';
    await h.storage.store.append(
      stream,
      [
        { id: randomUUID(), type: 'ConversationStarted', data: { conversationId: 'c1', tenantId: a.tenantId, channel: 'api', externalChatId: null, title: null, at }, metadata: meta(a.tenantId) },
        { id: randomUUID(), type: 'MessagePosted', data: { messageId: 'm3', text: 42 }, metadata: meta(a.tenantId) },
      ],
      'no_stream',
    );
    const later = ok(await client(h.baseUrl, a.key).post<{ position: string }>('/conversations', {}), 201);
    const outcome = await Promise.race([
      socket.until((f) => f.position === later.position, 5_000).then(() => 'delivered', () => 'nothing'),
      socket.closed.then((c) => `closed ${c.code}`),
    ]);
    expect(outcome).not.toBe('nothing');
    socket.ws.close();

    // and a socket resuming from before it: past it to the later event, then live (was 1011 catch_up_failed on every retry)
    const resumed = connect(h.baseUrl, a.tenantId, a.key, `?after=${a.position}`);
    const resumedOutcome = await Promise.race([
      resumed.until((f) => f.kind === 'live', 5_000).then(() => 'live', () => 'nothing'),
      resumed.closed.then((c) => `closed ${c.code}`),
    ]);
    expect(resumedOutcome).toBe('live');
    expect(resumed.events().map((f) => f.position)).toContain(later.position);
    resumed.ws.close();
  }, 30_000);
});
