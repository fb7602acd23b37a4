import { randomUUID } from 'node:crypto';
import type { Caller } from '../../commands/context.ts';
import { deployKnight } from '../../commands/knights/deploy-knight.ts';
import { terminateKnight } from '../../commands/knights/terminate-knight.ts';
import { createTenant } from '../../commands/tenants/create-tenant.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';
import { round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { startSagaSetup, startSimulatorProcess } from './saga-setup.ts';

const KNIGHTS = Number(process.env.BENCH_SAGA_KNIGHTS ?? 500);
const TENANTS = 10;
const CONCURRENCY = 64;

/** What a knight costs at Orgo without the saga: the same calls, made directly, as many at once as the saga steps jobs. */
const directBaseline = async (vms: VmProvider, count: number): Promise<number> => {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const vm = await vms.create(`direct-${i}-${randomUUID().slice(0, 6)}`, { cpu: 2, ramGb: 4 });
        let status = vm.status;
        while (status !== 'running') status = (await vms.get(vm.id)).status;
        for (const command of ['install', 'start', 'task']) await vms.bash(vm.id, command);
        await vms.screenshot(vm.id);
        await vms.remove(vm.id);
      }
    }),
  );
  return count / ((performance.now() - started) / 1_000);
};

/**
 * 500 knights requested at once (50 on each of 10 enterprise tenants) against the simulated Orgo
 * with no delays, in a process of its own; each is terminated as soon as its task completes. The
 * saga steps 64 jobs at once, its default. `msPerStep` is this process's CPU time
 * (the saga, its commands through the shell and codec, the bus; Orgo is elsewhere) per decision.
 */
export const sagaThroughputBench = async (url: string): Promise<BenchResult> => {
  const sim = await startSimulatorProcess('none');
  const setup = await startSagaSetup(url, sim.vms);
  try {
    const operator: Caller = { tenantId: asTenantId('platform'), actor: 'bench', correlationId: 'bench' };
    const tenants = Array.from({ length: TENANTS }, (_, i) => asTenantId(`sagabench-${process.pid}-${i}`));
    for (const t of tenants) await createTenant(setup.ports, { ...operator, tenantId: t }, { slug: t, name: 'Bench', tier: 'enterprise' });

    let terminated = 0;
    let running = 0;
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    const watch = await setup.bus.consume('bench-watch', { filter: { categories: ['knight'] } }, async (raw) => {
      for (const e of await setup.codec.decode(raw, 'stored')) {
        const { tenantId, entityId } = parseStreamId(e.streamId);
        if (e.type === 'KnightProvisioned') running++;
        if (e.type === 'KnightTaskCompleted')
          void terminateKnight(setup.ports, { tenantId, actor: 'bench', correlationId: e.id }, entityId!, { reason: 'done' });
        if (e.type === 'KnightTerminated' && ++terminated === KNIGHTS) resolveAll();
      }
    });

    const cpu0 = process.cpuUsage();
    const before = setup.saga.stats();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: KNIGHTS }, (_, i) => {
        const tenantId = tenants[i % TENANTS]!;
        return deployKnight(setup.ports, { tenantId, actor: 'bench', correlationId: `k${i}` }, { task: `Task ${i}`, cpu: 2, ramGb: 4 });
      }),
    );
    await all;
    const seconds = (performance.now() - t0) / 1_000;
    const cpu = process.cpuUsage(cpu0);
    const stats = setup.saga.stats();
    const decisions = stats.decisions - before.decisions;
    const msPerStep = (cpu.user + cpu.system) / 1_000 / decisions;
    await watch.close();
    if (running !== KNIGHTS) throw new Error(`only ${running} of ${KNIGHTS} knights reached running`);

    const baseline = await directBaseline(sim.vms, KNIGHTS);
    const value = KNIGHTS / seconds;
    return {
      scenario: 'saga-throughput',
      metric: 'knights_requested_to_terminated_per_second',
      value: round(value, 1),
      unit: 'knights/s',
      p50: null,
      p99: null,
      baseline: { name: 'the same Orgo calls per knight made directly through the client, 64 at once (knights/s)', value: round(baseline, 1) },
      ratio: round(value / baseline),
      notes:
        `${KNIGHTS} knights on ${TENANTS} tenants, all ${KNIGHTS} reached running and were terminated in ${round(seconds, 1)} s; ` +
        `msPerStep ${round(msPerStep, 3)} (target ≤ 5): this process's CPU per saga decision, Orgo simulated in another process; ` +
        `${decisions} decisions, ${stats.records - before.records} commands recorded, ${stats.effects - before.effects} Orgo effects; ` +
        `${TENANTS} agent VMs provisioned alongside`,
      extra: { msPerStep: round(msPerStep, 3), decisions, seconds: round(seconds, 2) },
    };
  } finally {
    await setup.close();
    await sim.stop();
  }
};
