import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_OF_KIND } from '../../adapters/http/problem.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { USAGE_MAX_AGE_MS } from '../../commands/usage.ts';
import type { Projector } from '../../adapters/projections/projector.ts';
import type { Caller } from '../../commands/context.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from './support/client.ts';
import type { Client } from './support/client.ts';
import { newTenant, tokenFor } from './support/journey.ts';

const QUOTA = TIER_LIMITS.free.messagesPerDay;
/** Enough for a quota's worth of posts and reads: the free tier's own 60 a minute would refuse long before. */
const FREE_PER_MINUTE = 1_000;

describe("a free tenant's daily message quota, through the HTTP API", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness({ TIER_REQUESTS_PER_MINUTE: `free=${FREE_PER_MINUTE}` });
  });
  afterAll(() => h?.close());

  /** A free tenant (through the operator), its bearer token and a conversation. */
  const freeTenantWithConversation = async () => {
    const { tenantId, key } = await newTenant(client(h.baseUrl, h.operatorKey), 'free');
    const me = client(h.baseUrl, await tokenFor(h.baseUrl, key));
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'quota' }), 201);
    return { tenantId, me, conversationId };
  };

  /** Posts `n` user messages, each answered 201; with `readEach`, reads each one back before the next. */
  const postMessages = async (me: Client, conversationId: string, n: number, readEach: boolean) => {
    for (let i = 1; i <= n; i++) {
      const posted = await me.post<{ position: string }>(`/conversations/${conversationId}/messages`, { text: `message ${i}` });
      expect(posted.status, `message ${i}: ${JSON.stringify(posted.body)}`).toBe(201);
      if (!readEach) continue;
      const read = await me.get(`/conversations/${conversationId}?minPosition=${posted.body.position}`);
      expect(read.status).toBe(200);
      expect(read.headers.get('x-read-model-lag')).toBeNull();
    }
  };

  /** The refusal appends nothing to the conversation (the log's head is no witness: other work appends meanwhile); resolves with its last position. */
  const expectRefusal = async (me: Client, tenantId: string, conversationId: string) => {
    const stream = conversationStream(asTenantId(tenantId), asConversationId(conversationId));
    const before = await h.storage.store.readStream(stream);
    const head = before.at(-1)?.position;
    const refused = await me.post(`/conversations/${conversationId}/messages`, { text: 'one too many' });
    expect(refused.status).toBe(STATUS_OF_KIND.limit);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'message_quota_exceeded', tier: 'free', limit: QUOTA });
    expect((await h.storage.store.readStream(stream)).map((e) => e.id)).toEqual(before.map((e) => e.id));
    return head;
  };

  it(`agent messages are not counted: after some, ${QUOTA} user messages pass, the next is refused with message_quota_exceeded and appends nothing`, async () => {
    const { tenantId, me, conversationId } = await freeTenantWithConversation();
    // No HTTP route posts as the agent (the agent runtime calls the command itself): so does this.
    const agent: Caller = { tenantId: asTenantId(tenantId), actor: 'system:test-agent', correlationId: randomUUID() };
    for (let i = 0; i < 5; i++) await postMessage(h.platform.ports, agent, conversationId, { text: `agent ${i}` }, { role: 'agent' });
    // Each message is read back before the next: every re-read of the daily count finds all of them projected.
    await postMessages(me, conversationId, QUOTA, true);
    expect(Number((await me.get('/tenants/me')).headers.get('x-ratelimit-limit'))).toBe(FREE_PER_MINUTE);
    const head = await expectRefusal(me, tenantId, conversationId);
    const answered = await postMessage(h.platform.ports, agent, conversationId, { text: 'the agent still answers' }, { role: 'agent' });
    expect(BigInt(answered.position ?? '0')).toBeGreaterThan(head ?? 0n);
    await expectRefusal(me, tenantId, conversationId);
  }, 120_000);

  // The projector stopped: the read model sees none of the burst, and the daily count is re-read
  // half way (its maximum age is USAGE_MAX_AGE_MS), so the count rests on what this process kept.
  // A first version forgot its own messages at every re-read and let the 201st through.
  it(`a burst of ${QUOTA} while the read model lags behind all of it: the next is refused too`, async () => {
    const { tenantId, me, conversationId } = await freeTenantWithConversation();
    const projector = h.platform.projector as Projector; // the harness runs it inline
    await projector.stop();
    try {
      await postMessages(me, conversationId, QUOTA / 2, false);
      await new Promise((resolve) => setTimeout(resolve, USAGE_MAX_AGE_MS + 100)); // not a wait for the projector: the count's age
      await postMessages(me, conversationId, QUOTA / 2, false);
      await expectRefusal(me, tenantId, conversationId);
      const concurrent = await Promise.all(Array.from({ length: 5 }, () => me.post(`/conversations/${conversationId}/messages`, { text: 'racing' })));
      expect(concurrent.map((r) => r.status)).toEqual(Array(5).fill(403));
    } finally {
      projector.start();
    }
  }, 120_000);
});
