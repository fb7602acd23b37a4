import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolve } from '../../adapters/openclaw/address-guard.ts';
import { ok } from '../http/support/client.ts';
import { startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { startGatewayDouble } from '../doubles/openclaw-gateway.ts';
import type { GatewayDouble } from '../doubles/openclaw-gateway.ts';
import { newConversation, repliesTo, say } from './support.ts';

const TOKEN = 'gw-token-0123456789abcdef';
const FALLBACK = /couldn't answer that just now/;

/** Our own DNS: a public-looking name that resolves to the double on loopback (a rebinding attacker's name). */
const dns: Record<string, { address: string; family: number }[]> = {
  'gateway.tenant.example': [{ address: '127.0.0.1', family: 4 }],
  // one public address and one internal one: the internal one is enough to refuse the name
  'mixed.tenant.example': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const resolveGatewayHost: Resolve = async (hostname) => {
  const found = dns[hostname];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found;
};

const harness = (allow: boolean) =>
  startSagaHarness({
    agents: true,
    resolveGatewayHost,
    env: {
      AGENT_TIMEOUT_MS: '4000',
      OPENCLAW_ATTEMPT_TIMEOUT_MS: '1000',
      OPENCLAW_RETRIES: '1',
      OPENCLAW_BREAKER_FAILURES: '50',
      ...(allow ? { GATEWAY_ALLOW_PRIVATE_NETWORKS: 'true' } : {}),
    },
  });

describe('a tenant gateway on an internal address is refused (GATEWAY_ALLOW_PRIVATE_NETWORKS unset)', () => {
  let h: SagaHarness;
  let gateway: GatewayDouble;
  let port: string;
  beforeAll(async () => {
    gateway = await startGatewayDouble({ token: TOKEN, reply: (text) => `echo ${text}` });
    port = new URL(gateway.url).port;
    h = await harness(false);
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  it('refuses a URL naming a loopback, private, link-local or unspecified address, or localhost, with gateway_url_forbidden, recording nothing', async () => {
    const { tenantId, me } = await h.tenant();
    for (const host of ['127.0.0.1', '[::1]', '169.254.169.254', '10.0.0.1', '172.16.5.4', '192.168.1.1', '[::ffff:127.0.0.1]', '[fd00::1]', '[fe80::1]', '0.0.0.0', '[::]', '0x7f.1', 'localhost', 'gw.localhost']) {
      const url = `http://${host}:${port}`;
      const reply = await me.post<{ code: string; status: number; detail: string }>('/agent/gateway', { url, token: TOKEN });
      expect(reply.status, url).toBe(400);
      expect(reply.body, url).toMatchObject({ code: 'gateway_url_forbidden', detail: expect.stringMatching(/public address/) });
      expect(JSON.stringify(reply.body)).not.toContain(TOKEN);
    }
    // (the saga appends the agent VM's events to the same stream meanwhile: only the gateway's are counted)
    expect((await h.raw(`tenant-${tenantId}`)).filter((e) => e.type.startsWith('AgentGateway'))).toEqual([]);
    expect(gateway.calls).toEqual([]);
  });

  it('accepts a host name at connect; when it resolves to loopback the call is refused before connecting: the fallback reply and a recorded failure', async () => {
    const { tenantId, me } = await h.tenant();
    for (const name of ['gateway.tenant.example', 'mixed.tenant.example']) {
      const url = `http://${name}:${port}`;
      expect(ok(await me.post('/agent/gateway', { url, token: TOKEN }), 200)).toMatchObject({ gateway: { url } });
      const conversationId = await newConversation(me);
      const posted = await say(me, conversationId, `hello ${name}`);
      expect(await repliesTo(me, conversationId, posted), name).toMatchObject([{ role: 'agent', text: expect.stringMatching(FALLBACK) }]);
      const failed = (await h.events(`conversation-${tenantId}.${conversationId}`)).filter((e) => e.type === 'AgentReplyFailed');
      expect(failed, name).toMatchObject([{ data: { inReplyTo: posted.messageId, reason: 'gateway agent failed: gateway unreachable: its host has no public address' } }]);
    }
    expect(gateway.calls).toEqual([]);
  });
});

describe('with GATEWAY_ALLOW_PRIVATE_NETWORKS=true a gateway on this machine answers', () => {
  let h: SagaHarness;
  let gateway: GatewayDouble;
  beforeAll(async () => {
    gateway = await startGatewayDouble({ token: TOKEN, reply: (text) => `echo ${text}` });
    h = await harness(true);
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  });

  it('a host name resolving to loopback, and the loopback literal, are connected and answer', async () => {
    const { me } = await h.tenant();
    for (const url of [`http://gateway.tenant.example:${new URL(gateway.url).port}`, gateway.url]) {
      ok(await me.post('/agent/gateway', { url, token: TOKEN }), 200);
      const conversationId = await newConversation(me);
      const posted = await say(me, conversationId, 'hi');
      expect(await repliesTo(me, conversationId, posted), url).toMatchObject([{ role: 'agent', text: 'echo hi' }]);
    }
    expect(gateway.calls.map((c) => c.status)).toEqual([200, 200]);
  });
});
