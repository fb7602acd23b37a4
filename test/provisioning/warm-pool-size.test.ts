import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createWarmPool } from '../../adapters/provisioning/pool.ts';
import type { WarmPool } from '../../adapters/provisioning/pool.ts';
import type { Vm, VmProvider } from '../../domain/ports/vm-provider.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/** ORGO_WARM_POOL computers are kept warm: refills that overlap must not create more than that. */
describe('warm pool size', () => {
  const schema = uniqueSchema('rv_pool');
  const db = pgPoolDb(TEST_DATABASE_URL, 4);
  afterAll(async () => {
    await db.close();
    await dropSchema(schema);
  });

  it('two claims in a row leave the pool at its size, not above it', async () => {
    let n = 0;
    const vms: VmProvider = {
      // computers that stay `creating`: the pool's rows stay warming while the test counts them
      create: async (name) => ({ id: `vm-${++n}`, name, status: 'creating', url: null, createdAt: null }),
      get: async (id) => ({ id, name: id, status: 'creating', url: null, createdAt: null }) as Vm,
      findByName: async () => undefined,
      list: async () => [],
      remove: async () => undefined,
      start: async () => undefined,
      bash: async () => ({ output: '', exitCode: 0 }),
      screenshot: async () => ({ kind: 'data', dataUrl: 'data:' }),
      classify: () => 'transient',
    };
    const pool = await createWarmPool({
      db, schema, vms, size: 2, computerSize: { cpu: 2, ramGb: 4 }, namePrefix: 'ocs', log: pino({ level: 'silent' }), pollMs: 50,
      bridge: { package: 'x', platformUrl: 'ws://x/bridge' },
    });
    await db.query(`INSERT INTO ${schema}.provisioning_pool (name, vm_id, cpu, ram_gb, status) VALUES ('ocs-w-a', 'vm-a', 2, 4, 'ready'), ('ocs-w-b', 'vm-b', 2, 4, 'ready')`);
    pool.start(); // its first refill finds the pool full
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await pool.claim('ocs-a-acme.agent-1', { cpu: 2, ramGb: 4 })).toBeDefined();
    expect(await pool.claim('ocs-a-bcme.agent-1', { cpu: 2, ramGb: 4 })).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await pool.stop();
    const counts = await pool.counts();
    expect(counts.warming + counts.ready).toBe(2);
  });

  it('a warm computer that never gets running (a status Orgo added since) is replaced after its deadline, not polled for good', async () => {
    const own = uniqueSchema('rv_pool3');
    let n = 0;
    const removed: string[] = [];
    const vms: VmProvider = {
      create: async (name) => ({ id: `vm-${++n}`, name, status: 'unknown', url: null, createdAt: null }),
      get: async (id) => ({ id, name: id, status: 'unknown', url: null, createdAt: null }) as Vm,
      findByName: async () => undefined,
      list: async () => [],
      remove: async (id) => void removed.push(id),
      start: async () => undefined,
      bash: async () => ({ output: '', exitCode: 0 }),
      screenshot: async () => ({ kind: 'data', dataUrl: 'data:' }),
      classify: () => 'transient',
    };
    const pool = await createWarmPool({
      db, schema: own, vms, size: 1, computerSize: { cpu: 2, ramGb: 4 }, namePrefix: 'ocs', log: pino({ level: 'silent' }), pollMs: 20, warmDeadlineMs: 200,
      bridge: { package: 'x', platformUrl: 'ws://x/bridge' },
    });
    try {
      pool.start();
      await expect.poll(() => removed, { timeout: 10_000 }).toContain('vm-1'); // before: polled as long as the process ran
    } finally {
      await pool.stop();
      await dropSchema(own);
    }
  });

  it('two saga processes sharing the pool fill it once and warm each computer once', async () => {
    const shared = uniqueSchema('rv_pool2');
    const created: string[] = [];
    const vms: VmProvider = {
      create: async (name) => (created.push(name), { id: `vm-${name}`, name, status: 'running', url: null, createdAt: null }),
      get: async (id) => ({ id, name: id, status: 'running', url: null, createdAt: null }) as Vm,
      findByName: async () => undefined, // a computer just created elsewhere is not listed yet
      list: async () => [],
      remove: async () => undefined,
      start: async () => undefined,
      // bootstrapping takes a while, so both processes are at it together
      bash: async () => (await new Promise((resolve) => setTimeout(resolve, 100)), { output: '', exitCode: 0 }),
      screenshot: async () => ({ kind: 'data', dataUrl: 'data:' }),
      classify: () => 'transient',
    };
    const processes: WarmPool[] = [];
    for (const instanceId of ['saga-1', 'saga-2'])
      processes.push(
        await createWarmPool({
          db, schema: shared, instanceId, vms, size: 2, computerSize: { cpu: 2, ramGb: 4 }, namePrefix: 'ocs', log: pino({ level: 'silent' }), pollMs: 20,
          bridge: { package: 'x', platformUrl: 'ws://x/bridge' },
        }),
      );
    try {
      for (const p of processes) p.start();
      const until = Date.now() + 10_000;
      while ((await processes[0]!.counts()).ready < 2 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await processes[0]!.counts()).toEqual({ warming: 0, ready: 2, claimed: 0 });
      expect(created).toHaveLength(2);
      expect(new Set(created).size).toBe(2);
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
      await dropSchema(shared);
    }
  });
});
