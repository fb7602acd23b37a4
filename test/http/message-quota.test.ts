import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_OF_KIND } from '../../adapters/http/problem.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import type { Caller } from '../../commands/context.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
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

  const expectRefusal = async (me: Client, conversationId: string) => {
    const head = await h.storage.store.headPosition();
    const refused = await me.post(`/conversations/${conversationId}/messages`, { text: 'one too many' });
    expect(refused.status).toBe(STATUS_OF_KIND.limit);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'message_quota_exceeded', tier: 'free', limit: QUOTA });
    expect(await h.storage.store.headPosition()).toBe(head);
    return head;
  };

  it(`accepts ${QUOTA} user messages, refuses the next with message_quota_exceeded and appends nothing; agent messages are not counted`, async () => {
    const { tenantId, me, conversationId } = await freeTenantWithConversation();
    // Each message is read back before the next: every re-read of the daily count finds all of them projected.
    await postMessages(me, conversationId, QUOTA, true);
    expect(Number((await me.get('/tenants/me')).headers.get('x-ratelimit-limit'))).toBe(FREE_PER_MINUTE);
    const head = await expectRefusal(me, conversationId);

    // No HTTP route posts as the agent (the agent runtime calls the command itself): so does this.
    const caller: Caller = { tenantId: asTenantId(tenantId), actor: 'system:test-agent', correlationId: randomUUID() };
    const answered = await postMessage(h.platform.ports, caller, conversationId, { text: 'the agent still answers' }, { role: 'agent' });
    expect(answered.duplicate).toBe(false);
    expect(BigInt(answered.position ?? '0')).toBeGreaterThan(head ?? 0n);
    await expectRefusal(me, conversationId);
  }, 120_000);

  // No read-backs: re-reads of the daily count meet a projector that lags behind the burst. The
  // counter keeps what this process accepted past the read model's position (commands/usage.ts);
  // an earlier version that forgot them let the 201st through in about half the runs.
  it(`a burst of ${QUOTA} without reading back: the next is refused too`, async () => {
    const { me, conversationId } = await freeTenantWithConversation();
    await postMessages(me, conversationId, QUOTA, false);
    await expectRefusal(me, conversationId);
  }, 120_000);
});
