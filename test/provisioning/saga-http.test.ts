import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { eventually, startSagaHarness } from './support.ts';
import type { SagaHarness } from './support.ts';

interface KnightBody {
  knightId: string;
  status: string;
  progress: number | null;
  result: string | null;
  screenshotUrl: string | null;
  vmId: string | null;
  failure: { stage: string; reason: string } | null;
}
interface TenantBody {
  agentVm: { status: string; requestId: string | null; vmId: string | null; failure: { stage: string; reason: string } | null } | null;
}

const knightIn = (me: Client, knightId: string, done: (k: KnightBody) => boolean) =>
  eventually(`knight ${knightId}`, async () => {
    const reply = await me.get<KnightBody>(`/knights/${knightId}`);
    if (reply.status === 404) return undefined; // not projected yet
    const k = ok(reply, 200);
    return done(k) ? k : undefined;
  });

const agentVmOf = (h: SagaHarness, tenantId: string, done: (vm: NonNullable<TenantBody['agentVm']>) => boolean) =>
  eventually(`agent vm of ${tenantId}`, async () => {
    const vm = ok(await h.operator.get<TenantBody>(`/tenants/${tenantId}`), 200).agentVm;
    return vm && done(vm) ? vm : undefined;
  });

describe('provisioning saga over the HTTP API, on the simulated Orgo', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(() => h.close());

  it('a new tenant gets its agent VM: created, bootstrapped over bash, ready; the bridge token is kept only as a hash', async () => {
    const { tenantId } = await h.tenant();
    const vm = await agentVmOf(h, tenantId, (v) => v.status === 'ready');
    const computer = h.sim.computers().find((c) => c.id === vm.vmId)!;
    expect(computer).toMatchObject({ name: `ocs-a-${tenantId}.agent-1`, status: 'running', cpu: 2, ram: 4 });
    const commands = h.sim.commands().filter((c) => c.computerId === vm.vmId).map((c) => c.command);
    expect(commands.some((c) => c.includes('npm install -g openclaw'))).toBe(true);
    expect(commands.some((c) => c.includes('openclaw gateway'))).toBe(true);
    expect(commands.some((c) => c.includes("npm install -g 'openclaw-service'"))).toBe(true);
    // the bridge is started to dial the platform as this tenant (no one else's), with the token handed over
    expect(commands.find((c) => c.includes('agent-bridge --platform'))).toContain(`--tenant '${tenantId}' --token-file ~/.ocs/bridge-token`);
    const handed = commands.find((c) => c.includes('bridge-token'))!;
    const token = /printf '%s' '([A-Za-z0-9_-]{43})'/.exec(handed)![1]!;
    const events = await h.events(`tenant-${tenantId}`);
    const ready = events.find((e) => e.type === 'AgentVmReady')!;
    expect(ready.data).toMatchObject({ requestId: 'agent-1', vmId: vm.vmId, bridgeTokenHash: `sha256:${createHash('sha256').update(token).digest('hex')}` });
    expect(JSON.stringify(events.map((e) => [e.data, e.metadata]))).not.toContain(token);
    expect(JSON.stringify((await h.raw(`tenant-${tenantId}`)).map((e) => [e.data, e.metadata]))).not.toContain(token);
    expect(JSON.stringify(ok(await h.operator.get(`/tenants/${tenantId}`), 200))).not.toContain(token);
  });

  it('a knight is provisioned, runs its task, reports progress and its result with a screenshot link, and is terminated', async () => {
    const { me } = await h.tenant();
    h.sim.script({ pattern: /printf '%s' 'Build the landing page' > .*openclaw agent/, exitCode: 0, output: 'landing page built\n' });
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Build the landing page', cpu: 4, ramGb: 8 }), 202);
    const done = await knightIn(me, knightId, (k) => k.result !== null);
    expect(done).toMatchObject({ status: 'provisioned', progress: 100, result: 'landing page built\n', screenshotUrl: `/api/v1/knights/${knightId}/screenshot` });
    const computer = h.sim.computers().find((c) => c.id === done.vmId)!;
    expect(computer).toMatchObject({ cpu: 4, ram: 8, status: 'running' });
    expect(ok(await me.get<{ image: string }>(`/knights/${knightId}/screenshot`), 200).image).toMatch(/^data:image\/png;base64,/);
    ok(await me.delete(`/knights/${knightId}`), 202);
    await knightIn(me, knightId, (k) => k.status === 'terminated');
    await eventually('the computer gone', () => (h.sim.computers().some((c) => c.id === done.vmId) ? undefined : true));
    expect((await me.get(`/knights/${knightId}/screenshot`)).status).toBe(409);
  });

  it("a screenshot Orgo refuses is a 503 to try again, without Orgo's status, request id or configuration hints", async () => {
    const { me } = await h.tenant();
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Look at me' }), 202);
    await knightIn(me, knightId, (k) => k.result !== null); // the saga has taken its own screenshots by then
    for (const status of [401, 404, 409] as const) {
      h.sim.fail({ op: 'screenshot', status, code: 'workspace_scope_mismatch', error: 'upstream says no' });
      const reply = await me.get(`/knights/${knightId}/screenshot`);
      expect([status, reply.status, reply.body.code, reply.headers.get('retry-after')]).toEqual([status, 503, 'screenshot_unavailable', '1']);
      expect(JSON.stringify(reply.body)).not.toMatch(/orgo|upstream|ORGO_|operation/i);
    }
    expect(ok(await me.get<{ image: string }>(`/knights/${knightId}/screenshot`), 200).image).toMatch(/^data:image\/png;base64,/);
  });

  it('never hands bash a task unquoted: the simulator records it as one literal word', async () => {
    const { me } = await h.tenant();
    const task = `Say "hi"; echo $(echo INJECTED) \`echo TICKS\` && it's $HOME | cat > /tmp/x\nsecond line & done`;
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'provisioned' && x.result !== null);
    const run = h.sim.commands().find((c) => c.computerId === k.vmId && c.command.includes('openclaw agent'))!.command;
    const word = /printf '%s' ('(?:[^']|'\\'')*') >/.exec(run)![1]!;
    // bash itself reads the word back: printf prints it literally only if nothing in it was interpreted
    const echoed = spawnSync('bash', ['-c', `printf '%s' ${word}`], { encoding: 'utf8' });
    expect(echoed.stdout).toBe(task);
  });

  it('a bootstrap step that exits non-zero fails the agent VM with the stage and why; a retry then succeeds', async () => {
    h.sim.script({ pattern: /npm install -g 'openclaw-service'/, exitCode: 1, output: 'npm ERR! 404 Not Found' });
    const { tenantId, me } = await h.tenant();
    const failed = await agentVmOf(h, tenantId, (v) => v.status === 'failed');
    expect(failed.failure).toEqual({ stage: 'bootstrap', reason: 'install the agent bridge exited with 1: npm ERR! 404 Not Found' });
    await eventually('the failed computer deleted', () => (h.sim.computers().some((c) => c.name === `ocs-a-${tenantId}.agent-1`) ? undefined : true));
    h.sim.script({ pattern: /npm install -g 'openclaw-service'/, exitCode: 0 });
    const retried = ok(await me.post<{ requestId: string }>('/tenants/me/agent-vm', {}), 202);
    expect(retried.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const ready = await agentVmOf(h, tenantId, (v) => v.status === 'ready');
    expect(ready).toMatchObject({ requestId: retried.requestId, failure: null });
    expect(ok(await me.post<{ requestId: string | null }>('/tenants/me/agent-vm', {}), 202).requestId).toBeNull();
  });

  it('refuses a knight over the tier’s limits, naming the limit, and provisions nothing for it', async () => {
    const { tenantId, me } = await h.tenant('free');
    const big = await me.post('/knights', { task: 'Big job', cpu: 4, ramGb: 8 });
    expect(big.status).toBe(403);
    expect(big.body).toMatchObject({ code: 'knight_spec_over_tier', maxCpu: 2, maxRamGb: 8 });
    const first = ok(await me.post<{ position: string }>('/knights', { task: 'First job' }), 202);
    ok(await me.get(`/knights?minPosition=${first.position}`), 200); // the limit counts knights the read model knows
    const second = await me.post('/knights', { task: 'Second job' });
    expect(second.status).toBe(403);
    expect(second.body).toMatchObject({ code: 'knight_limit_reached', limit: 1 });
    await eventually('the first knight’s computer', () => (h.sim.computers().some((c) => c.name.startsWith(`ocs-k-${tenantId}.`)) ? true : undefined));
    expect(h.sim.computers().filter((c) => c.name.startsWith(`ocs-k-${tenantId}.`))).toHaveLength(1);
  });
});
