import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startAgentDispatcher } from '../../adapters/agents/dispatcher.ts';
import type { AgentRequest } from '../../domain/ports/agent-runtime.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { eventually } from '../provisioning/support.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { history, newConversation, say } from './support.ts';

describe("a suspended tenant's messages get no agent call", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(() => h.close());

  it('messages posted before the suspension are not sent to the agent once it is suspended; an active tenant is answered', async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const suspended = await newTenant(operator, 'pro');
    const active = await newTenant(operator, 'pro');
    const mine = client(h.baseUrl, suspended.key);
    const theirs = client(h.baseUrl, active.key);
    const muted = await newConversation(mine);
    const open = await newConversation(theirs);
    await say(mine, muted, 'are you there?');
    const answeredPost = await say(theirs, open, 'are you there?');
    ok(await operator.post(`/tenants/${suspended.tenantId}/suspend`, { reason: 'unpaid' }), 200);

    const asked: AgentRequest[] = [];
    const dispatcher = await startAgentDispatcher({
      bus: h.storage.bus,
      codec: h.storage.codec,
      ports: h.platform.ports,
      runtimeFor: async () => ({ kind: 'spy', reply: async (request) => (asked.push(request), 'answered') }),
      partials: { onPartial: () => undefined },
      log: pino({ level: 'silent' }),
      timeoutMs: 10_000,
      consumer: 'agents-suspended-test',
    });
    try {
      await eventually('the reply to the active tenant', async () => (await history(theirs, open, answeredPost.position)).find((m) => m.inReplyTo === answeredPost.messageId));
      await eventually('the consumer caught up', async () => ((await h.storage.bus.lag('agents-suspended-test')).total === 0 ? true : undefined));
      expect(asked.map((r) => r.tenantId)).toEqual([active.tenantId]);
      const stored = await h.storage.codec.decode(await h.storage.store.readStream(`conversation-${suspended.tenantId}.${muted}`), 'stored');
      expect(stored.map((e) => (e.type === 'MessagePosted' ? e.data.role : e.type))).toEqual(['ConversationStarted', 'user']);
    } finally {
      await dispatcher.close();
    }
  }, 120_000);
});
