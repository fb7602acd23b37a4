import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { eventually, startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { startGatewayDouble } from '../doubles/openclaw-gateway.ts';
import type { GatewayDouble } from '../doubles/openclaw-gateway.ts';
import { newConversation, repliesTo, say } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const GATEWAY_TOKEN = 'vm-gateway-token-not-ready';

/**
 * The saga starts the bridge on the VM before it records `AgentVmReady` (with the token's hash), so
 * a quick bridge says hello while its tenant's agent VM is still `requested`. It is told "not ready
 * yet" (4503) and retries, instead of being refused for good (4401) and never answering.
 */
describe('a bridge that says hello before its agent VM is recorded ready', () => {
  let h: SagaHarness;
  let gateway: GatewayDouble;
  const children: { kill(): void }[] = [];

  beforeAll(async () => {
    gateway = await startGatewayDouble({ token: GATEWAY_TOKEN, reply: (text) => `from the VM: ${text}` });
    h = await startSagaHarness({ agents: true, env: { AGENT_RUNTIME: 'openclaw', AGENT_BRIDGE_WAIT_MS: '120000', AGENT_TIMEOUT_MS: '180000' } });
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill();
  });
  afterAll(async () => {
    await h?.close();
    await gateway?.close();
  }, 60_000);

  it('keeps retrying while the VM is requested, attaches once AgentVmReady is recorded, then answers', async () => {
    // the "start the agent bridge" step takes a while to come back: the window in which the real bridge is already up
    h.sim.script({ pattern: /agent-bridge --platform/, exitCode: 0, delayMs: 8_000 });
    const { tenantId, me } = await h.tenant();
    const token = await eventually(
      'the bridge token handed to the VM',
      () => {
        const handed = h.sim.commands().find((c) => c.computerName.includes(tenantId) && c.command.includes('bridge-token') && c.command.includes('printf'));
        return handed && /printf '%s' '([A-Za-z0-9_-]{43})'/.exec(handed.command)![1]!;
      },
      30_000,
    );
    const vmStatus = async () => ok(await h.operator.get<{ agentVm: { status: string } | null }>(`/tenants/${tenantId}`), 200).agentVm?.status;
    expect(await vmStatus()).toBe('requested');

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'runtime/cli.ts', 'agent-bridge', '--platform', `${h.api.baseUrl.replace(/^http/, 'ws')}/bridge`, '--tenant', tenantId, '--gateway', gateway.url],
      { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', AGENT_BRIDGE_TOKEN: token, OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push({ kill: () => void child.kill('SIGKILL') });
    let out = '';
    let exitCode: number | null | undefined;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (exitCode = code));

    await eventually('the bridge told to retry', () => (/4503/.test(out) ? true : exitCode !== undefined ? `exited ${exitCode}: ${out}` : undefined), 30_000).then((seen) =>
      expect(seen).toBe(true),
    );
    expect(await vmStatus()).toBe('requested'); // so the hello came before AgentVmReady
    expect(out).not.toMatch(/refused this bridge/);
    expect(exitCode).toBeUndefined();

    await eventually('the agent vm ready', async () => ((await vmStatus()) === 'ready' ? true : undefined), 60_000);
    await eventually('the bridge attached', () => (h.api.agents!.hub.connected(tenantId) ? true : undefined), 60_000);
    expect(exitCode).toBeUndefined();

    const conversationId = await newConversation(me);
    const posted = await say(me, conversationId, 'are you up now?');
    expect(await repliesTo(me, conversationId, posted, undefined, 60_000)).toMatchObject([{ role: 'agent', text: 'from the VM: are you up now?' }]);
    expect(gateway.sessions.get(`ocs:${tenantId}:${conversationId}`)).toEqual(['are you up now?']);
  }, 180_000);
});
