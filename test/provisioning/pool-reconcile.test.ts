import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgoClient, orgoVmProvider } from '../../adapters/orgo/client.ts';
import { migrateReadModels } from '../../adapters/projections/projector.ts';
import { createReconciler } from '../../adapters/provisioning/reconciler.ts';
import { knightStream } from '../../domain/shared/streams.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { ownersLag } from '../../runtime/saga.ts';
import { dropSchema, uniqueSchema } from '../support/postgres.ts';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { eventually, startSagaHarness } from './support.ts';
import type { SagaHarness } from './support.ts';

interface KnightBody {
  status: string;
  vmId: string | null;
  result: string | null;
  failure: { stage: string; reason: string } | null;
}

const knightIn = (me: Client, knightId: string, done: (k: KnightBody) => boolean) =>
  eventually(`knight ${knightId}`, async () => {
    const reply = await me.get<KnightBody>(`/knights/${knightId}`);
    if (reply.status === 404) return undefined;
    const k = ok(reply, 200);
    return done(k) ? k : undefined;
  });

const agentReady = (h: SagaHarness, tenantId: string) =>
  eventually('agent vm ready', async () => {
    const vm = ok(await h.operator.get<{ agentVm: { status: string; vmId: string } | null }>(`/tenants/${tenantId}`), 200).agentVm;
    return vm?.status === 'ready' ? vm : undefined;
  });

describe('reconciliation', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(() => h.close());

  it("skips its round while the owners' read models are further behind the log than the grace: a stopped projector never deletes customers' computers", async () => {
    const { tenantId } = await h.tenant();
    const ghost = h.sim.createComputer(`ocs-k-${tenantId}.ghost`);
    const vms = orgoVmProvider(createOrgoClient({ baseUrl: h.sim.url, apiKey: h.sim.apiKey, timeoutMs: 2_000 }), h.sim.workspaceId);
    const reconcilerOn = (schema: string) =>
      createReconciler({
        db: h.api.storage.db,
        schema,
        vms,
        shell: h.api.platform.ports.shell,
        namePrefix: 'ocs',
        log: createLogger('silent'),
        graceMs: 1_000,
        readModelsLagSeconds: ownersLag(h.api.storage, schema),
      });
    // read models nobody projects into (a projector stopped since the start): every computer's owner is missing there
    const stale = uniqueSchema('rm_stale');
    await migrateReadModels(h.api.storage.db, stale, PROJECTIONS);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the ghost and the log's events are older than the grace
      const skipped = await reconcilerOn(stale).runOnce();
      expect(skipped).toMatchObject({ orphans: [], vanished: [], lostAgents: [], skipped: expect.stringMatching(/behind the log/) });
      expect(h.sim.computers().map((c) => c.id)).toContain(ghost.id);
      const everyone = h.sim.computers().length;
      expect(everyone).toBeGreaterThan(1); // the tenant's own agent VM was there to lose too
    } finally {
      await dropSchema(stale);
    }
    // on the read models that are level with the log, the same round deletes the orphan and nothing else
    const result = await eventually('a round on level read models', async () => {
      const r = await reconcilerOn(h.api.schemas.readModels).runOnce();
      return r.skipped ? undefined : r;
    });
    expect(result.orphans).toEqual([ghost.name]);
  });

  it('deletes this platform’s orphans only, and marks knights whose computer vanished', async () => {
    const { tenantId, me } = await h.tenant();
    const agent = await agentReady(h, tenantId);
    const live = ok(await me.post<{ knightId: string }>('/knights', { task: 'Keep me' }), 202).knightId;
    const lost = ok(await me.post<{ knightId: string }>('/knights', { task: 'Lose me' }), 202).knightId;
    const gone = ok(await me.post<{ knightId: string }>('/knights', { task: 'End me' }), 202).knightId;
    const kept = await knightIn(me, live, (k) => k.result !== null);
    const vanishing = await knightIn(me, lost, (k) => k.result !== null);
    await knightIn(me, gone, (k) => k.result !== null);
    ok(await me.delete(`/knights/${gone}`), 202);
    await knightIn(me, gone, (k) => k.status === 'terminated');

    const customer = h.sim.createComputer('customer-desktop');
    const ghost = h.sim.createComputer(`ocs-k-${tenantId}.ghost`);
    const leftover = h.sim.createComputer(`ocs-k-${tenantId}.${gone}`);
    h.sim.vanish(vanishing.vmId!);

    const young = await h.api.saga!.reconciler.runOnce(); // default grace: everything here is too new to judge
    expect(young).toEqual({ orphans: [], vanished: [], lostAgents: [] });
    const result = await h.api.saga!.reconciler.runOnce({ graceMs: 0 });
    expect(result.orphans.sort()).toEqual([ghost.name, leftover.name].sort());
    expect(result.vanished).toEqual([`${tenantId}.${lost}`]);
    const failed = await knightIn(me, lost, (k) => k.status === 'failed');
    expect(failed.failure).toEqual({ stage: 'vm_lost', reason: 'the knight’s computer no longer exists at Orgo' });
    await eventually('orphans deleted', () => (h.sim.computers().some((c) => c.id === ghost.id || c.id === leftover.id) ? undefined : true));
    const ids = h.sim.computers().map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining([customer.id, kept.vmId, agent.vmId]));
    expect((await h.api.saga!.reconciler.runOnce({ graceMs: 0 })).orphans).toEqual([]);
  });
});

// Orgo may list computers without their status: the client then reads each on its own (listedStatus: false)
describe('reconciliation never takes a missing workspace, or a listing that left a computer out, for lost knights', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ sim: { listedStatus: false } });
  });
  afterAll(() => h.close());

  it('a knight missing from a listing is failed only once its computer reads gone by id; a workspace deleted mid-listing fails the round and no knight', async () => {
    const { tenantId, me } = await h.tenant();
    await agentReady(h, tenantId);
    const keep = ok(await me.post<{ knightId: string }>('/knights', { task: 'Keep me' }), 202).knightId;
    const lose = ok(await me.post<{ knightId: string }>('/knights', { task: 'Lose me' }), 202).knightId;
    const kept = await knightIn(me, keep, (k) => k.result !== null);
    const lost = await knightIn(me, lose, (k) => k.result !== null);
    const failures = async (knightId: string) =>
      (await h.events(knightStream(tenantId as never, knightId as never))).filter((e) => e.type === 'KnightFailed');

    // a listing that leaves the kept knight's computer out (it is still there); the other one was really deleted
    const real = orgoVmProvider(createOrgoClient({ baseUrl: h.sim.url, apiKey: h.sim.apiKey, timeoutMs: 2_000 }), h.sim.workspaceId);
    const partial = { ...real, list: async () => (await real.list()).filter((vm) => vm.id !== kept.vmId) };
    const reconciler = createReconciler({ db: h.api.storage.db, schema: h.api.schemas.readModels, vms: partial, shell: h.api.platform.ports.shell, namePrefix: 'ocs', log: createLogger('silent') });
    h.sim.vanish(lost.vmId!);
    const result = await reconciler.runOnce({ graceMs: 0 });
    expect(result.vanished).toEqual([`${tenantId}.${lose}`]); // before: the kept one too
    expect(await failures(keep)).toEqual([]);
    expect((await knightIn(me, lose, (k) => k.status === 'failed')).failure).toEqual({ stage: 'vm_lost', reason: 'the knight’s computer no longer exists at Orgo' });

    // the workspace answers its listing, then is deleted with every computer in it before they are read
    h.sim.deleteWorkspaceAfterNextListing(h.sim.workspaceId);
    // before: every read answered 404, the listing was empty, and every live knight was failed as vm_lost
    await expect(h.api.saga!.reconciler.runOnce({ graceMs: 0 })).rejects.toMatchObject({ code: 'orgo_workspace_not_found' });
    expect(await failures(keep)).toEqual([]);
    expect(ok(await me.get<KnightBody>(`/knights/${keep}`), 200).status).toBe(kept.status);
  });
});

describe('reconciliation of ready agent VMs', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(() => h.close());

  it('a ready agent VM deleted out of band is recorded lost (the tenant sees why and requests it again); one in a state Orgo added since is left alone', async () => {
    const lost = await h.tenant();
    const odd = await h.tenant();
    const vm = await agentReady(h, lost.tenantId);
    const oddVm = await agentReady(h, odd.tenantId);
    h.sim.vanish(vm.vmId);
    h.sim.reportStatus(oddVm.vmId, 'hibernating');
    const result = await h.api.saga!.reconciler.runOnce({ graceMs: 0 }); // before: listing failed on the unknown status
    expect(result.lostAgents).toEqual([lost.tenantId]);
    expect(result.orphans).toEqual([]);
    const seen = await eventually('the agent vm failed', async () => {
      const t = ok(await lost.me.get<{ agentVm: { status: string; failure: { stage: string; reason: string } | null } | null }>('/tenants/me'), 200);
      return t.agentVm?.status === 'failed' ? t.agentVm : undefined;
    });
    expect(seen.failure).toEqual({ stage: 'vm_lost', reason: 'the agent VM’s computer no longer exists at the VM provider; request the agent VM again' });
    // a second round records nothing more
    expect((await h.api.saga!.reconciler.runOnce({ graceMs: 0 })).lostAgents).toEqual([]);
    ok(await lost.me.post('/tenants/me/agent-vm', {}), 202);
    const again = await agentReady(h, lost.tenantId);
    expect(again.vmId).not.toBe(vm.vmId);
    expect(h.sim.computers().some((c) => c.id === again.vmId && c.status === 'running')).toBe(true);
    const oddTenant = ok(await odd.me.get<{ agentVm: { status: string } | null }>('/tenants/me'), 200);
    expect(oddTenant.agentVm?.status).toBe('ready');
    h.sim.reportStatus(oddVm.vmId, undefined);
  });
});

describe('warm pool', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness({ env: { ORGO_WARM_POOL: '2' } });
  });
  afterAll(() => h.close());

  const ready = (n: number) => eventually(`${n} warm computers`, async () => ((await h.api.saga!.pool!.counts()).ready === n ? true : undefined));

  it('a new tenant claims a warm, bootstrapped computer: only its token is handed over; the pool refills', async () => {
    await ready(2);
    const warm = h.sim.computers().filter((c) => c.name.startsWith('ocs-w-')).map((c) => c.id);
    expect(warm).toHaveLength(2);
    const { tenantId } = await h.tenant();
    const agent = await agentReady(h, tenantId);
    expect(warm).toContain(agent.vmId);
    const steps = h.sim.commands().filter((c) => c.computerId === agent.vmId).map((c) => c.command);
    expect(steps.filter((c) => c.includes('npm install'))).toHaveLength(2); // before the claim, once each
    expect(steps.at(-2)).toMatch(/bridge-token/);
    // the bridge is this product's CLI, started to dial the platform as this tenant with its token file
    expect(steps.at(-1)).toContain(`openclaw-service agent-bridge --platform 'ws://127.0.0.1:8090/bridge' --tenant '${tenantId}' --token-file`);
    await eventually('refilled', async () => {
      const counts = await h.api.saga!.pool!.counts();
      return counts.ready === 2 && counts.claimed === 1 ? true : undefined;
    });
    expect((await h.api.saga!.reconciler.runOnce({ graceMs: 0 })).orphans).toEqual([]); // warm ones are not orphans
  });

  it('a knight of the pool’s size claims one too, skips the install, and gives it back deleted when terminated', async () => {
    await ready(2);
    const { me } = await h.tenant();
    await eventually('refilled after the tenant', async () => ((await h.api.saga!.pool!.counts()).ready === 2 ? true : undefined));
    const before = new Set(h.sim.computers().filter((c) => c.name.startsWith('ocs-w-')).map((c) => c.id));
    const { knightId } = ok(await me.post<{ knightId: string }>('/knights', { task: 'Quick one', cpu: 2, ramGb: 4 }), 202);
    const k = await knightIn(me, knightId, (x) => x.result !== null);
    expect(before.has(k.vmId!)).toBe(true);
    const steps = h.sim.commands().filter((c) => c.computerId === k.vmId).map((c) => c.command);
    expect(steps.filter((c) => c.includes('npm install'))).toHaveLength(2);
    expect(steps.at(-1)).toMatch(/printf '%s' 'Quick one' > .*openclaw agent/);
    ok(await me.delete(`/knights/${knightId}`), 202);
    await knightIn(me, knightId, (x) => x.status === 'terminated');
    await eventually('its computer gone', () => (h.sim.computers().some((c) => c.id === k.vmId) ? undefined : true));
    expect((await h.api.saga!.reconciler.runOnce({ graceMs: 0 })).orphans).toEqual([]);
  });
});
