import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { eventually, startSagaHarness } from './support.ts';
import type { SagaHarness } from './support.ts';

interface KnightBody {
  knightId: string;
  status: string;
  vmId: string | null;
  failure: { stage: string; reason: string } | null;
}

const knightIn = (me: Client, knightId: string, done: (k: KnightBody) => boolean) =>
  eventually(`knight ${knightId}`, async () => {
    const reply = await me.get<KnightBody>(`/knights/${knightId}`);
    if (reply.status === 404) return undefined;
    const k = ok(reply, 200);
    return done(k) ? k : undefined;
  });

const computersOf = (h: SagaHarness, tenantId: string, knightId: string) => h.sim.computers().filter((c) => c.name === `ocs-k-${tenantId}.${knightId}`);

describe('provisioning saga: races and faults', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ env: { KNIGHT_PROVISION_TIMEOUT_SECONDS: '3' } });
  });
  afterAll(() => h.close());

  it('terminating twice, and a termination racing the provisioning, end with no computer and one KnightTerminated', async () => {
    const { tenantId, me } = await h.tenant();
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Race me' }), 202);
    ok(await me.delete(`/knights/${knightId}`), 202); // while the saga is about to create its computer
    ok(await me.delete(`/knights/${knightId}`), 202);
    await knightIn(me, knightId, (k) => k.status === 'terminated');
    ok(await me.delete(`/knights/${knightId}`), 202);
    await eventually('no computer', () => (computersOf(h, tenantId, knightId).length === 0 ? true : undefined));
    const events = await h.events(`knight-${tenantId}.${knightId}`);
    expect(events.filter((e) => e.type === 'KnightTerminated')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'KnightTerminationRequested')).toHaveLength(1);
  });

  it('a termination while the computer boots deletes it', async () => {
    const { tenantId, me } = await h.tenant();
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Boot then stop' }), 202);
    await eventually('a computer', () => (computersOf(h, tenantId, knightId).length === 1 ? true : undefined));
    ok(await me.delete(`/knights/${knightId}`), 202);
    await knightIn(me, knightId, (k) => k.status === 'terminated');
    await eventually('no computer', () => (computersOf(h, tenantId, knightId).length === 0 ? true : undefined));
  });

  it('a create whose answer never comes is found by name, not repeated: exactly one computer', async () => {
    const { tenantId, me } = await h.tenant();
    h.sim.timeoutAfterCreate(1, new RegExp(`^ocs-k-${tenantId}\\.`));
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Lost answer' }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'provisioned');
    expect(computersOf(h, tenantId, knightId).map((c) => c.id)).toEqual([k.vmId]);
  });

  it('a computer that ends in error fails the knight at the provisioning stage, and is deleted', async () => {
    const { tenantId, me } = await h.tenant();
    h.sim.endInError(new RegExp(`^ocs-k-${tenantId}\\.`));
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Doomed' }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'failed');
    expect(k.failure).toEqual({ stage: 'provisioning', reason: 'the computer ended in error while starting' });
    await eventually('no computer', () => (computersOf(h, tenantId, knightId).length === 0 ? true : undefined));
  });

  it('503s are retried; past the deadline the knight fails and what was created is deleted', async () => {
    const { tenantId, me } = await h.tenant();
    h.sim.fail({ op: 'get', status: 503, times: Infinity, name: new RegExp(`^ocs-k-${tenantId}\\.`) });
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Unreachable' }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'failed');
    expect(k.failure?.stage).toBe('provisioning');
    expect(k.failure?.reason).toMatch(/^(provider_error: the VM provider did not succeed after \d+ attempts \(HTTP 503\)|the computer was not running within 3 s)$/);
    h.sim.clearFaults();
    await eventually('no computer', () => (computersOf(h, tenantId, knightId).length === 0 ? true : undefined));
  });

  it('a task that exits non-zero fails the knight at the task stage', async () => {
    const { me } = await h.tenant();
    h.sim.script({ pattern: /printf '%s' 'Break things' > .*openclaw agent/, exitCode: 2, output: 'Error: something broke' });
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Break things' }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'failed');
    expect(k.failure).toEqual({ stage: 'task', reason: 'the task exited with 2: Error: something broke' });
  });

  it('a failed knight frees its place: a free tenant whose only knight failed deploys another; a knight at work still counts', async () => {
    const { tenantId, me } = await h.tenant('free');
    h.sim.script({ pattern: /printf '%s' 'Fail first' > .*openclaw agent/, exitCode: 2, output: 'Error: broke' });
    const first = ok(await me.post<{ knightId: string }>('/knights', { task: 'Fail first' }), 202);
    await knightIn(me, first.knightId, (x) => x.status === 'failed');
    const second = await me.post<{ knightId: string; position: string }>('/knights', { task: 'Then work' });
    expect(second.status).toBe(202); // it was 403 knight_limit_reached: the failed knight still counted
    ok(await me.get(`/knights?minPosition=${second.body.position}`), 200);
    const third = await me.post('/knights', { task: 'One too many' });
    expect(third.status).toBe(403);
    expect(third.body).toMatchObject({ code: 'knight_limit_reached', limit: 1 });
    await knightIn(me, second.body.knightId, (x) => x.status === 'provisioned');
    expect(computersOf(h, tenantId, second.body.knightId)).toHaveLength(1);
  });

  it('a tier downgrade terminates the newest knights beyond the new limit', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const older = ok(await me.post<{ knightId: string }>('/knights', { task: 'Older' }), 202).knightId;
    await knightIn(me, older, (x) => x.status === 'provisioned');
    const newer = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Newer' }), 202);
    ok(await me.get(`/knights?minPosition=${newer.position}`), 200);
    ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'free' }), 200);
    // watched in the log, not over HTTP: the free tier's 60 requests a minute would cut the polling short (a full run saw 429)
    const events = await eventually('the newer knight terminated', async () => {
      const history = await h.events(`knight-${tenantId}.${newer.knightId}`);
      return history.some((e) => e.type === 'KnightTerminated') ? history : undefined;
    });
    expect(events.find((e) => e.type === 'KnightTerminationRequested')?.data).toMatchObject({ reason: 'the free tier allows 1 knight at once' });
    const terminated = events.find((e) => e.type === 'KnightTerminated')!;
    expect(ok(await me.get<KnightBody>(`/knights/${newer.knightId}?minPosition=${terminated.position}`), 200).status).toBe('terminated');
    expect(ok(await me.get<KnightBody>(`/knights/${older}`), 200).status).not.toMatch(/^terminat/);
  });

  it('a tier downgrade terminates a knight larger than the new tier allows, and keeps one that fits', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const big = ok(await me.post<{ knightId: string }>('/knights', { task: 'Big one', cpu: 8, ramGb: 32 }), 202).knightId;
    await knightIn(me, big, (x) => x.status === 'provisioned');
    const small = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Small one' }), 202);
    ok(await me.get(`/knights?minPosition=${small.position}`), 200);
    ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'free' }), 200);
    // watched in the log, not over HTTP: the free tier's 60 requests a minute would cut the polling short
    const events = await eventually('the big knight terminated', async () => {
      const history = await h.events(`knight-${tenantId}.${big}`);
      return history.some((e) => e.type === 'KnightTerminated') ? history : undefined;
    });
    expect(events.find((e) => e.type === 'KnightTerminationRequested')?.data).toMatchObject({
      reason: 'the free tier allows knights of at most 2 CPUs and 8 GB RAM',
    });
    await eventually('no computer', () => (computersOf(h, tenantId, big).length === 0 ? true : undefined));
    expect(ok(await me.get<KnightBody>(`/knights/${small.knightId}`), 200).status).not.toMatch(/^terminat/);
  });

  it('erasing a tenant terminates its knights and deletes its agent VM', async () => {
    const { tenantId, me } = await h.tenant();
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Doomed with its tenant' }), 202);
    await knightIn(me, knightId, (x) => x.status === 'provisioned');
    await eventually('the agent vm', () => (h.sim.computers().some((c) => c.name === `ocs-a-${tenantId}.agent-1` && c.status === 'running') ? true : undefined));
    ok(await h.operator.delete(`/tenants/${tenantId}`), 200);
    await eventually('knight terminated', async () => ((await h.events(`knight-${tenantId}.${knightId}`)).some((e) => e.type === 'KnightTerminated') ? true : undefined));
    await eventually('no computer of the tenant', () => (h.sim.computers().some((c) => c.name.includes(`-${tenantId}.`)) ? undefined : true));
  });

  it('suspending a tenant terminates its knights', async () => {
    const { tenantId, me } = await h.tenant();
    const { knightId, position } = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Long job' }), 202);
    await knightIn(me, knightId, (x) => x.status === 'provisioned');
    ok(await me.get(`/knights?minPosition=${position}`), 200);
    ok(await h.operator.post(`/tenants/${tenantId}/suspend`, { reason: 'unpaid invoice' }), 200);
    const k = await knightIn(me, knightId, (x) => x.status === 'terminated');
    expect(k.vmId).not.toBeNull();
    await eventually('no computer', () => (computersOf(h, tenantId, knightId).length === 0 ? true : undefined));
  });
});

describe('provisioning saga: Orgo refuses the platform’s credentials', () => {
  let h: SagaHarness;
  const logs: string[] = [];
  beforeAll(async () => {
    h = await startSagaHarness({
      apiKey: (sim) => {
        const elsewhere = sim.addWorkspace('someone-else');
        sim.addKey('sk_live_scoped_elsewhere', { workspaceId: elsewhere.id });
        return 'sk_live_scoped_elsewhere';
      },
      log: pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) })),
    });
  });
  afterAll(() => h.close());

  it('403 workspace_scope_mismatch, then 401: agent VMs and knights fail once, the tenant told stable text, the operator’s log what to fix; no retry storm', async () => {
    const { me } = await h.tenant();
    const vm = await eventually('agent vm failed', async () => {
      const t = ok(await me.get<{ agentVm: { status: string; failure: { stage: string; reason: string } | null } | null }>('/tenants/me'), 200);
      return t.agentVm?.status === 'failed' ? t.agentVm : undefined;
    });
    // before: "Orgo refused the platform's credentials (an operator must fix ORGO_API_KEY / ORGO_WORKSPACE_ID): Orgo answered 403 to …"
    expect(vm.failure).toEqual({ stage: 'provisioning', reason: "provider_error: the VM provider refused the platform's credentials (HTTP 403); an operator must act" });
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Anything' }), 202);
    const k = await knightIn(me, knightId, (x) => x.status === 'failed');
    expect(k.failure).toEqual({ stage: 'provisioning', reason: "provider_error: the VM provider refused the platform's credentials (HTTP 403); an operator must act" });
    h.sim.revokeKey('sk_live_scoped_elsewhere');
    const before = h.sim.refusals();
    const second = ok(await me.post<{ knightId: string }>('/knights', { task: 'Anything again' }), 202);
    const k2 = await knightIn(me, second.knightId, (x) => x.status === 'failed');
    expect(k2.failure?.reason).toBe("provider_error: the VM provider refused the platform's credentials (HTTP 401); an operator must act");
    // one refused call to find the computer, at most one to clean up: then the knight is settled
    expect(h.sim.refusals() - before).toBeLessThanOrEqual(2);
    expect(h.sim.computers().filter((c) => c.name.startsWith('ocs-'))).toEqual([]);
    // the detail, with what to fix, is in the operator's log, and the key is not
    const failures = logs.filter((line) => line.includes('orgo call failed'));
    expect(failures.some((line) => /workspace_scope_mismatch|scoped to another workspace.*ORGO_WORKSPACE_ID/.test(line))).toBe(true);
    expect(failures.some((line) => /Orgo answered 401.*check ORGO_API_KEY/.test(line))).toBe(true);
    expect(logs.join('\n')).not.toContain('sk_live_scoped_elsewhere');
  });
});

describe('provisioning saga: the platform’s workspace deleted behind its back', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ env: { KNIGHT_PROVISION_TIMEOUT_SECONDS: '6' } });
  });
  afterAll(() => h.close());

  it('a knight being provisioned is terminated (its computer went with the workspace); a new one fails at its deadline without a storm of calls', async () => {
    const { tenantId, me } = await h.tenant();
    await eventually('the agent vm', () => (h.sim.computers().some((c) => c.name === `ocs-a-${tenantId}.agent-1` && c.status === 'running') ? true : undefined));
    await eventually('agent vm ready', async () => {
      const t = ok(await h.operator.get<{ agentVm: { status: string } | null }>(`/tenants/${tenantId}`), 200);
      return t.agentVm?.status === 'ready' ? true : undefined;
    });
    h.sim.deleteWorkspace(h.sim.workspaceId);

    const first = ok(await me.post<{ knightId: string }>('/knights', { task: 'Nowhere to run' }), 202).knightId;
    await knightIn(me, first, (k) => k.status === 'provisioning');
    ok(await me.delete(`/knights/${first}`), 202);
    await knightIn(me, first, (k) => k.status === 'terminated'); // it stayed `terminating`, retrying the look-up by name

    const before = h.sim.requests();
    const second = ok(await me.post<{ knightId: string }>('/knights', { task: 'Nowhere either' }), 202).knightId;
    const k = await knightIn(me, second, (x) => x.status === 'failed');
    expect(k.failure?.stage).toBe('provisioning');
    // a few looks and creates with backoff (1 s, 2 s, 4 s) until the 6 s deadline; a 404 taken for
    // "look again at once" made thousands
    expect(h.sim.requests() - before).toBeLessThan(60);
  });
});
