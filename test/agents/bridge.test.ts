import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { eventually, startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { startGatewayDouble } from '../doubles/openclaw-gateway.ts';
import type { GatewayDouble } from '../doubles/openclaw-gateway.ts';
import { expectOneReplyEach, history, newConversation, repliesTo, say } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const GATEWAY_TOKEN = 'vm-gateway-token-0123456789';

interface BridgeProcess {
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

describe('the agent bridge: a child process on the "VM" dials the platform over WebSocket', () => {
  let h: SagaHarness;
  let gateway: GatewayDouble;
  const children: BridgeProcess[] = [];

  const bridge = (tenantId: string, token: string): BridgeProcess => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'runtime/cli.ts', 'agent-bridge', '--platform', `${h.api.baseUrl.replace(/^http/, 'ws')}/bridge`, '--tenant', tenantId, '--gateway', gateway.url],
      { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', AGENT_BRIDGE_TOKEN: token, OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const handle = { output: () => out, exited, kill: (signal: NodeJS.Signals) => void child.kill(signal) };
    children.push(handle);
    return handle;
  };
  const connected = (tenantId: string) => eventually(`the bridge of ${tenantId}`, () => (h.api.agents!.hub.connected(tenantId) ? true : undefined), 60_000);

  /** A tenant whose agent VM is ready, and the bridge token the saga handed the VM (read off the simulated Orgo). */
  const tenantWithVm = async (): Promise<{ tenantId: string; me: Client; token: string }> => {
    const { tenantId, me } = await h.tenant();
    const vm = await eventually('the agent vm', async () => {
      const v = ok(await h.operator.get<{ agentVm: { status: string; vmId: string } | null }>(`/tenants/${tenantId}`), 200).agentVm;
      return v?.status === 'ready' ? v : undefined;
    });
    const handed = h.sim.commands().filter((c) => c.computerId === vm.vmId).map((c) => c.command).find((c) => c.includes('bridge-token'))!;
    return { tenantId, me, token: /printf '%s' '([A-Za-z0-9_-]{43})'/.exec(handed)![1]! };
  };

  beforeAll(async () => {
    gateway = await startGatewayDouble({ token: GATEWAY_TOKEN, reply: (text) => `from the VM: ${text}` });
    h = await startSagaHarness({ agents: true, env: { AGENT_RUNTIME: 'openclaw', AGENT_BRIDGE_WAIT_MS: '120000', AGENT_TIMEOUT_MS: '180000' } });
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  }, 60_000);

  it('a message waits while no bridge is connected (the conversation shows it), then the bridge answers it through the gateway', async () => {
    const { tenantId, me, token } = await tenantWithVm();
    const conversationId = await newConversation(me);
    const posted = await say(me, conversationId, 'anyone home?');
    await eventually('the delay recorded', async () =>
      (await h.events(`conversation-${tenantId}.${conversationId}`)).find((e) => e.type === 'AgentReplyDelayed'),
    );
    bridge(tenantId, token);
    await connected(tenantId);
    expect(await repliesTo(me, conversationId, posted, undefined, 60_000)).toMatchObject([{ role: 'agent', text: 'from the VM: anyone home?' }]);
    expect(gateway.sessions.get(`ocs:${tenantId}:${conversationId}`)).toEqual(['anyone home?']);
  }, 120_000);

  it("refuses a forged token, another tenant's token and a revoked one with clear close codes, relaying nothing", async () => {
    const a = await tenantWithVm();
    const b = await tenantWithVm();
    const forged = bridge(a.tenantId, 'A'.repeat(43));
    expect(await forged.exited).toBe(3);
    expect(forged.output()).toMatch(/refused this bridge \(close 4401: bridge token refused\)/);
    const borrowed = bridge(a.tenantId, b.token);
    expect(await borrowed.exited).toBe(3);
    expect(borrowed.output()).toContain('close 4401');
    const unknown = bridge('t-nobody', a.token);
    expect(await unknown.exited).toBe(3);

    const good = bridge(a.tenantId, a.token);
    await connected(a.tenantId);
    ok(await a.me.post('/agent/bridge-token/revoke', { reason: 'vm compromised' }), 200);
    expect(await good.exited).toBe(3);
    expect(good.output()).toMatch(/close 4403: bridge token revoked/);
    const again = bridge(a.tenantId, a.token);
    expect(await again.exited).toBe(3);
    expect(again.output()).toContain('close 4403');
    expect(gateway.calls.filter((c) => c.sessionKey.includes(a.tenantId))).toEqual([]);
    const revokedTwice = await a.me.post<{ code: string }>('/agent/bridge-token/revoke', { reason: 'again' });
    expect(revokedTwice.status).toBe(200);
  }, 180_000);

  it('killing the bridge mid-reply 10 times: after each reconnect every message is answered exactly once', async () => {
    gateway.set({ chunks: 6, chunkDelayMs: 200, reply: (text) => `slow answer to ${text}` });
    try {
      const { tenantId, me, token } = await tenantWithVm();
      const conversationId = await newConversation(me);
      let current = bridge(tenantId, token);
      await connected(tenantId);
      const posted: { messageId: string; position: string; text: string }[] = [];
      for (let round = 0; round < 10; round++) {
        const text = `question ${round}`;
        posted.push({ ...(await say(me, conversationId, text)), text });
        await eventually(`the gateway asked "${text}"`, () => (gateway.calls.some((c) => c.text === text) ? true : undefined), 60_000);
        current.kill('SIGKILL'); // mid-reply: the stream takes over a second
        await current.exited;
        current = bridge(tenantId, token);
      }
      await connected(tenantId);
      for (const p of posted) expect(await repliesTo(me, conversationId, p, undefined, 120_000)).toMatchObject([{ text: `slow answer to ${p.text}` }]);
      const all = await history(me, conversationId);
      expectOneReplyEach(all);
      expect(all.filter((m) => m.role === 'agent')).toHaveLength(10);
    } finally {
      gateway.set({ chunks: 3, chunkDelayMs: 0, reply: (text) => `from the VM: ${text}` });
    }
  }, 400_000);
});
