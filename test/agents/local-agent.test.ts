import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatOrigin } from '../../adapters/agents/knight-origin.ts';
import { deployKnight } from '../../commands/knights/deploy-knight.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { ok } from '../http/support/client.ts';
import { eventually, startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { expectOneReplyEach, history, newConversation, repliesTo, say } from './support.ts';

describe('the local agent answers over the API (PostgreSQL, simulated Orgo)', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ agents: true, env: { AGENT_RUNTIME: 'local' } });
  });
  afterAll(() => h.close());

  it('a user message gets one reply from the built-in agent, which says what it is, read back with minPosition', async () => {
    const { me } = await h.tenant();
    const conversationId = await newConversation(me);
    const posted = await say(me, conversationId, 'hello there');
    const [reply] = await repliesTo(me, conversationId, posted);
    expect(reply).toMatchObject({ role: 'agent', inReplyTo: posted.messageId, delivery: 'none' });
    expect(reply!.text).toMatch(/built-in agent.*not a language model/);
    const events = await h.events(`conversation-${(await me.get<{ tenantId: string }>('/tenants/me')).body.tenantId}.${conversationId}`);
    expect(events.filter((e) => e.type === 'MessagePosted').map((e) => e.type === 'MessagePosted' && e.data.role)).toEqual(['user', 'agent']);
  });

  it('answers what the tenant has: tier, usage today, knights and their state', async () => {
    const { me } = await h.tenant('pro');
    const conversationId = await newConversation(me);
    ok(await me.post('/knights', { task: 'Index the archive' }), 202);
    await eventually('the knight listed', async () => ((await me.get<{ items: unknown[] }>('/knights')).body.items.length > 0 ? true : undefined));
    const posted = await say(me, conversationId, 'What do I have? Which tier am I on?');
    const [reply] = await repliesTo(me, conversationId, posted);
    expect(reply!.text).toContain('pro tier');
    expect(reply!.text).toMatch(/Today: \d+ user messages?/);
    expect(reply!.text).toMatch(/1 knight active:\n• [\w-]+: \w+.* — Index the archive/);
  });

  it('deploys a knight when asked in plain words, reports its progress into the chat, and terminates it when asked', async () => {
    const { me } = await h.tenant('pro');
    h.sim.script({ pattern: /printf '%s' 'build a website' > .*openclaw agent/, exitCode: 0, output: 'website built at /srv/site\n' });
    const conversationId = await newConversation(me);
    const asked = await say(me, conversationId, 'Please deploy a knight to build a website.');
    const reports = await repliesTo(me, conversationId, asked, (r) => r.some((m) => /finished: website built/.test(m.text)), 60_000);
    expect(reports[0]!.text).toMatch(/^Deploying knight (k-[\w-]+) to "build a website"\./);
    const knightId = /knight (k-[\w-]+)/.exec(reports[0]!.text)![1]!;
    expect(reports.map((m) => m.text).join('\n')).toMatch(new RegExp(`Knight ${knightId} is up[\\s\\S]*Knight ${knightId} finished: website built at /srv/site`));
    const knight = ok(await me.get<{ task: string; status: string }>(`/knights/${knightId}`), 200);
    expect(knight).toMatchObject({ task: 'build a website', status: 'provisioned' });

    const stop = await say(me, conversationId, `terminate knight ${knightId}`);
    const [stopping] = await repliesTo(me, conversationId, stop);
    expect(stopping!.text).toBe(`Terminating knight ${knightId} ("build a website").`);
    await repliesTo(me, conversationId, asked, (r) => r.some((m) => m.text === `Knight ${knightId} was terminated.`), 60_000);
    expectOneReplyEach(await history(me, conversationId));
  });

  it("reports a knight's progress only into a chat the agent deployed it from: the same mark under another actor names no chat", async () => {
    const { tenantId, me } = await h.tenant('pro');
    const [genuine, spoofed] = [await newConversation(me), await newConversation(me)];
    const [askedGenuine, askedSpoofed] = [await say(me, genuine, 'hello'), await say(me, spoofed, 'hello')];
    const ports = h.api.platform.ports;
    const deployFrom = (actor: string, conversationId: string, messageId: string, task: string) =>
      deployKnight(ports, { tenantId: asTenantId(tenantId), actor, correlationId: chatOrigin(conversationId, messageId), causationId: null }, { task, cpu: 2, ramGb: 8 });
    const first = await deployFrom('agent', genuine, askedGenuine.messageId, 'genuine');
    const { knightId } = await deployFrom('apikey:a-client', spoofed, askedSpoofed.messageId, 'spoofed');
    await eventually('the spoofed knight up', async () => ((await h.events(`knight-${tenantId}.${knightId}`)).some((e) => e.type === 'KnightProvisioned') ? true : undefined), 60_000);
    // the genuine knight's termination comes after it in the log: once that is reported, the spoofed one's events were seen
    ok(await me.delete(`/knights/${first.knightId}`), 202);
    await repliesTo(me, genuine, askedGenuine, (r) => r.some((m) => /terminated/i.test(m.text)), 60_000);
    const last = await h.api.storage.store.headPosition();
    expect((await history(me, spoofed, String(last))).filter((m) => /^Knight /.test(m.text))).toEqual([]);
  }, 120_000);

  it('asks what to do when the knight has no task, and says when there is nothing to terminate', async () => {
    const { me } = await h.tenant();
    const conversationId = await newConversation(me);
    const vague = await say(me, conversationId, 'deploy a knight');
    expect((await repliesTo(me, conversationId, vague))[0]!.text).toMatch(/What should the knight do\?/);
    const none = await say(me, conversationId, 'stop the knight');
    expect((await repliesTo(me, conversationId, none))[0]!.text).toBe('No knights are running, so there is nothing to terminate.');
    expect((await me.get<{ items: unknown[] }>('/knights')).body.items).toEqual([]);
  });
});
