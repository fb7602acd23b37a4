import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgoClient, orgoVmProvider } from '../../adapters/orgo/client.ts';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import { createReconciler } from '../../adapters/provisioning/reconciler.ts';
import { createLogger } from '../../runtime/logger.ts';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { newMasterKey } from '../support/codec.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';
import { eventually, QUICK_DELAYS } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('provisioning saga survives kill -9 after every step', () => {
  let sim: OrgoSimulator;
  let api: ApiHarness;
  const masterKey = newMasterKey(); // the saga process decrypts the knights' tasks with the same key
  beforeAll(async () => {
    sim = await startOrgoSimulator({ delays: QUICK_DELAYS });
    api = await startApiHarness({ ENCRYPTION_KEY: masterKey });
  });
  afterAll(async () => {
    await api.close();
    await sim.close();
  });

  const sagaEnv = () => ({
    ...process.env,
    DATABASE_URL: TEST_DATABASE_URL,
    EVENT_STORE: 'postgres',
    EVENT_STORE_SCHEMA: api.schemas.events,
    READ_MODEL_SCHEMA: api.schemas.readModels,
    ORGO_API_URL: sim.url,
    ORGO_API_KEY: sim.apiKey,
    ORGO_WORKSPACE_ID: sim.workspaceId,
    ORGO_TIMEOUT_MS: '1000',
    ORGO_POLL_MS: '20',
    ORGO_RETRY_DELAYS_MS: '20,40,80',
    RECONCILE_INTERVAL_SECONDS: '0',
    SAGA_INSTANCE_ID: 'crash-test',
    ENCRYPTION_KEY: masterKey,
    LOG_LEVEL: 'silent',
  });
  const startSaga = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'saga'], { cwd: root, env: sagaEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const running = new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('saga running') && resolve()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return { child, running, exited };
  };

  it('every knight ends with exactly one computer or a clean compensation, one KnightTerminated each, and no orphans after reconciliation', async () => {
    const operator = client(api.baseUrl, api.operatorKey);
    const tenantId = slug('crash');
    ok(await operator.post('/tenants', { slug: tenantId, name: 'Crash', tier: 'enterprise' }), 201);
    const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'crash' }), 201);
    ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
    const me = client(api.baseUrl, issued.key);
    sim.timeoutAfterCreate(1, new RegExp(`^ocs-k-${tenantId}\\.`)); // the first knight's create is accepted, never answered
    const knights: string[] = [];
    for (const task of ['Build the site', 'Write the docs', 'Cancel me soon']) knights.push(ok(await me.post<{ knightId: string }>('/knights', { task }), 202).knightId);

    const sagaEvents = async () => (await api.storage.store.readAll({ filter: { tenantId } })).filter((e) => e.metadata.actor === 'saga').length;
    const inventory = () => sim.computers().map((c) => c.id).join(',');
    const settled = async () => {
      const events = await api.storage.codec.decode(await api.storage.store.readAll({ filter: { tenantId } }), 'stored');
      const ready = events.some((e) => e.type === 'AgentVmReady');
      const ended = knights.every((k) => events.some((e) => e.streamId.endsWith(`.${k}`) && (e.type === 'KnightTaskCompleted' || e.type === 'KnightTerminated')));
      return ready && ended;
    };

    let kills = 0;
    let cancelled = false;
    while (!(await settled())) {
      const saga = startSaga();
      await saga.running;
      const [events, computers] = [await sagaEvents(), inventory()];
      // kill at the first sign of progress: a new event of the saga's, or a change at Orgo
      await eventually('a step of the saga', async () => ((await sagaEvents()) !== events || inventory() !== computers || (await settled()) ? true : undefined), 30_000);
      saga.child.kill('SIGKILL');
      await saga.exited;
      kills++;
      if (!cancelled && kills === 3) {
        ok(await me.delete(`/knights/${knights[2]}`), 202); // terminate one while it is being provisioned
        cancelled = true;
      }
    }
    // at least one kill per phase a knight goes through in order (more when phases happen apart)
    expect(kills).toBeGreaterThanOrEqual(6);

    const saga = startSaga();
    await saga.running;
    try {
      for (const k of knights.slice(0, 2)) {
        const done = await eventually(`knight ${k} done`, async () => {
          const r = await me.get<{ status: string; vmId: string | null; result: string | null }>(`/knights/${k}`);
          return r.status === 200 && r.body.result !== null ? r.body : undefined;
        });
        expect(sim.computers().filter((c) => c.name === `ocs-k-${tenantId}.${k}`).map((c) => c.id)).toEqual([done.vmId]);
      }
      for (const k of knights) ok(await me.delete(`/knights/${k}`), 202);
      for (const k of knights)
        await eventually(`knight ${k} terminated`, async () => {
          const r = await me.get<{ status: string }>(`/knights/${k}`);
          return r.status === 200 && r.body.status === 'terminated' ? true : undefined;
        });
      for (const k of knights) {
        const events = await api.storage.codec.decodeStream('knight', await api.storage.store.readStream(`knight-${tenantId}.${k}`), 'stored');
        expect(events.filter((e) => e.type === 'KnightTerminated'), k).toHaveLength(1);
        expect(events.filter((e) => e.type === 'KnightProvisioningStarted').length, k).toBeLessThanOrEqual(1);
      }
      const tenantEvents = await api.storage.codec.decodeStream('tenant', await api.storage.store.readStream(`tenant-${tenantId}`), 'stored');
      expect(tenantEvents.filter((e) => e.type === 'AgentVmReady')).toHaveLength(1);
    } finally {
      saga.child.kill('SIGKILL');
      await saga.exited;
    }

    await eventually('deletions finished', () => (sim.computers().some((c) => c.status === 'deleting') ? undefined : true));
    const vms = orgoVmProvider(createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000 }), sim.workspaceId);
    const reconciler = createReconciler({
      db: api.storage.db,
      schema: api.schemas.readModels,
      vms,
      shell: api.platform.ports.shell,
      namePrefix: 'ocs',
      log: createLogger('silent'),
    });
    await reconciler.runOnce({ graceMs: 0 });
    await eventually('orphans gone', () => (sim.computers().some((c) => c.status === 'deleting') ? undefined : true));
    const left = sim.computers().filter((c) => c.name.startsWith(`ocs-`) && c.name.includes(tenantId));
    expect(left.map((c) => c.name)).toEqual([`ocs-a-${tenantId}.agent-1`]); // the tenant's own agent VM, and nothing else
    expect((await reconciler.runOnce({ graceMs: 0 })).orphans).toEqual([]);
  }, 480_000); // 150 s in a full run on a loaded machine: room for a slower day
});
