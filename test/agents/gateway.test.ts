import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { startGatewayDouble } from '../doubles/openclaw-gateway.ts';
import type { GatewayDouble } from '../doubles/openclaw-gateway.ts';
import { newConversation, repliesTo, say } from './support.ts';

const TOKEN = 'gw-token-0123456789abcdef';
const FALLBACK = /couldn't answer that just now/;

describe("a tenant's OpenClaw gateway answers (gateway double, SSE)", () => {
  let h: SagaHarness;
  let gateway: GatewayDouble;
  const logs: string[] = [];
  beforeAll(async () => {
    gateway = await startGatewayDouble({ token: TOKEN });
    h = await startSagaHarness({
      agents: true,
      log: pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) })),
      env: {
        AGENT_TIMEOUT_MS: '4000',
        OPENCLAW_ATTEMPT_TIMEOUT_MS: '1000',
        OPENCLAW_RETRIES: '2',
        OPENCLAW_BREAKER_FAILURES: '3',
        OPENCLAW_BREAKER_OPEN_MS: '600000',
        AGENT_MAX_REPLY_CHARS: '500',
        // the double listens on 127.0.0.1
        GATEWAY_ALLOW_PRIVATE_NETWORKS: 'true',
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  const connected = async (): Promise<{ tenantId: string; me: Client }> => {
    const tenant = await h.tenant();
    const set = ok(await tenant.me.post<{ position: string }>('/agent/gateway', { url: gateway.url, token: TOKEN }), 200);
    expect(set).toMatchObject({ tenantId: tenant.tenantId, gateway: { url: gateway.url } });
    return tenant;
  };

  it('streams the reply from the gateway, one session per conversation; the token is sealed everywhere', async () => {
    gateway.set({ reply: (text, session) => `echo ${text} (${session})`, chunks: 4 });
    const { tenantId, me } = await connected();
    const first = await newConversation(me);
    const second = await newConversation(me);
    const a = await say(me, first, 'hi from one');
    const b = await say(me, second, 'hi from two');
    expect((await repliesTo(me, first, a))[0]!.text).toBe(`echo hi from one (ocs:${tenantId}:${first})`);
    expect((await repliesTo(me, second, b))[0]!.text).toBe(`echo hi from two (ocs:${tenantId}:${second})`);
    expect(gateway.calls.filter((c) => c.sessionKey.includes(tenantId))).toMatchObject([
      { authorized: true, agentId: 'main', status: 200 },
      { authorized: true, agentId: 'main', status: 200 },
    ]);
    const raw = JSON.stringify((await h.raw(`tenant-${tenantId}`)).map((e) => [e.type, e.data, e.metadata]));
    expect(raw).toContain('AgentGatewayConnected');
    expect(raw).not.toContain(TOKEN);
    expect(JSON.stringify(ok(await me.get('/tenants/me'), 200))).not.toContain(TOKEN);
  });

  it('retries a failing gateway with backoff and answers once it recovers', async () => {
    gateway.set({ reply: (text) => `recovered: ${text}` });
    const { tenantId, me } = await connected();
    const conversationId = await newConversation(me);
    gateway.failNext(2, 503);
    const posted = await say(me, conversationId, 'are you there?');
    expect((await repliesTo(me, conversationId, posted))).toMatchObject([{ text: 'recovered: are you there?' }]);
    expect(gateway.calls.filter((c) => c.sessionKey.includes(tenantId)).map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('a gateway that keeps failing or hangs gets one polite fallback and a recorded failure; the conversation goes on', async () => {
    gateway.set({ reply: (text) => `fine: ${text}` });
    const { tenantId, me } = await connected();
    const conversationId = await newConversation(me);
    gateway.failNext(3, 500);
    const failed = await say(me, conversationId, 'first');
    expect(await repliesTo(me, conversationId, failed)).toMatchObject([{ role: 'agent', text: expect.stringMatching(FALLBACK) }]);
    gateway.hangNext(3);
    const hung = await say(me, conversationId, 'second');
    expect(await repliesTo(me, conversationId, hung)).toMatchObject([{ text: expect.stringMatching(FALLBACK) }]);
    const after = await say(me, conversationId, 'third');
    expect(await repliesTo(me, conversationId, after)).toMatchObject([{ text: 'fine: third' }]);
    const events = await h.events(`conversation-${tenantId}.${conversationId}`);
    const failures = events.flatMap((e) => (e.type === 'AgentReplyFailed' ? [e.data] : []));
    expect(failures).toMatchObject([
      { inReplyTo: failed.messageId, reason: expect.stringMatching(/gateway answered with HTTP 500/) },
      { inReplyTo: hung.messageId, reason: expect.stringMatching(/timed out/) },
    ]);
    // the reason may carry text from the tenant's agent: ciphertext at rest, as message text is
    const stored = (await h.raw(`conversation-${tenantId}.${conversationId}`)).filter((e) => e.type === 'AgentReplyFailed');
    expect(stored).toHaveLength(2);
    for (const e of stored) expect(JSON.stringify(e.data)).not.toMatch(/gateway|timed out/);
    // nor in the log, which names the failure's kind only
    const logged = logs.filter((l) => l.includes('agent reply failed') && l.includes(conversationId));
    expect(logged.map((l) => (JSON.parse(l) as { failure: string }).failure)).toEqual([expect.any(String), expect.any(String)]); // the hung one: 'timeout', or the gateway client's own error when its attempts timed out first
    expect(logged.join('')).not.toMatch(/gateway answered|HTTP 500/);
  });

  it('cuts a reply over the size limit with a marker instead of dropping it', async () => {
    gateway.set({ reply: () => 'x'.repeat(5_000), chunks: 10 });
    const { me } = await connected();
    const conversationId = await newConversation(me);
    const posted = await say(me, conversationId, 'write a lot');
    const [reply] = await repliesTo(me, conversationId, posted);
    expect(reply!.text.length).toBeLessThanOrEqual(500);
    expect(reply!.text).toMatch(/^x{400,}\n\n\[… reply truncated: \d+ more characters over the 500-character limit\]$/);
  });

  it("opens the tenant's circuit after repeated failures: no more calls to its gateway, fallbacks at once", async () => {
    gateway.set({ reply: (text) => `ok ${text}` });
    const { tenantId, me } = await connected();
    const conversationId = await newConversation(me);
    gateway.failNext(9, 500); // three replies, three attempts each
    for (const text of ['a', 'b', 'c']) await repliesTo(me, conversationId, await say(me, conversationId, text));
    const callsBefore = gateway.calls.filter((c) => c.sessionKey.includes(tenantId)).length;
    expect(callsBefore).toBe(9);
    const blocked = await say(me, conversationId, 'd');
    expect(await repliesTo(me, conversationId, blocked)).toMatchObject([{ text: expect.stringMatching(FALLBACK) }]);
    expect(gateway.calls.filter((c) => c.sessionKey.includes(tenantId)).length).toBe(callsBefore);
    const events = await h.events(`conversation-${tenantId}.${conversationId}`);
    expect(events.filter((e) => e.type === 'AgentReplyFailed').at(-1)).toMatchObject({ data: { reason: expect.stringMatching(/failed 3 times in a row/) } });
  });

  it('refuses a bad gateway url or token with a clear problem, changing nothing', async () => {
    const { tenantId, me } = await h.tenant();
    const before = (await h.raw(`tenant-${tenantId}`)).length;
    for (const body of [
      { url: 'ftp://gateway.example', token: TOKEN },
      { url: 'https://user:pass@gateway.example', token: TOKEN },
      { url: gateway.url, token: 'has spaces in it' },
      { url: gateway.url },
      { url: gateway.url, token: TOKEN, extra: 1 },
    ]) {
      const reply = await me.post<{ code: string; status: number }>('/agent/gateway', body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.code).toMatch(/^(invalid_gateway_url|validation_failed|invalid_body)$/);
      expect(JSON.stringify(reply.body)).not.toContain(TOKEN);
    }
    expect((await h.raw(`tenant-${tenantId}`)).length).toBe(before);
  });
});
