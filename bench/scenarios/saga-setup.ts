import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createInProcessBus } from '../../adapters/bus/in-process.ts';
import { createSqlCheckpointStore } from '../../adapters/bus/sql-checkpoints.ts';
import { createSqlDeadLetters } from '../../adapters/bus/sql-dead-letters.ts';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { createOrgoClient, orgoVmProvider } from '../../adapters/orgo/client.ts';
import type { OrgoClient } from '../../adapters/orgo/client.ts';
import { createWarmPool } from '../../adapters/provisioning/pool.ts';
import type { WarmPool } from '../../adapters/provisioning/pool.ts';
import { createProvisioningSaga } from '../../adapters/provisioning/saga.ts';
import type { ProvisioningSaga } from '../../adapters/provisioning/saga.ts';
import type { CommandPorts } from '../../commands/context.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import type { Bus } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import { DEFAULT_POLICY } from '../../domain/provisioning/job.ts';
import { createLogger } from '../../runtime/logger.ts';
import { benchCodec } from '../codec.ts';

export interface SimulatorProcess {
  readonly url: string;
  readonly apiKey: string;
  readonly workspaceId: string;
  readonly client: OrgoClient;
  readonly vms: VmProvider;
  stop(): Promise<void>;
}

/** The simulated Orgo in a child process (see bench/fixtures/orgo-simulator.ts), reached through the real client. */
export const startSimulatorProcess = async (delays: 'none' | 'documented'): Promise<SimulatorProcess> => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../fixtures/orgo-simulator.ts'), delays], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`the simulator exited (${code})`)));
  });
  const { url, apiKey, workspaceId } = JSON.parse(line) as { url: string; apiKey: string; workspaceId: string };
  const client = createOrgoClient({ baseUrl: url, apiKey, timeoutMs: 30_000 });
  return {
    url,
    apiKey,
    workspaceId,
    client,
    vms: orgoVmProvider(client, workspaceId),
    stop: () =>
      new Promise<void>((resolve) => {
        child.on('exit', () => resolve());
        child.stdin.end();
      }),
  };
};

export interface SagaSetup {
  readonly store: EventStore;
  readonly codec: EventCodec;
  readonly bus: Bus;
  readonly ports: CommandPorts;
  readonly saga: ProvisioningSaga;
  readonly pool: WarmPool | undefined;
  close(): Promise<void>;
}

/**
 * The saga as the `saga` role runs it, on PostgreSQL with the codec encrypting, an in-process bus
 * and no read models (only reconciliation reads them, and it does not run here). Commands go
 * through the same shell the API uses.
 */
export const startSagaSetup = async (url: string, vms: VmProvider, options: { warmPool?: number; pollMs?: number } = {}): Promise<SagaSetup> => {
  const schema = `bench_saga_${process.pid}_${randomUUID().slice(0, 6)}`;
  const db = pgPoolDb(url, 4);
  const store = await createSqlEventStore(pgPoolDb(url, 8), { schema });
  const codec = await benchCodec(db, schema, true);
  const bus = createInProcessBus({ store, checkpoints: await createSqlCheckpointStore(db, schema), deadLetters: await createSqlDeadLetters(db, schema) });
  const shell = createCommandShell({ store, codec });
  const ports: CommandPorts = { shell, clock: () => new Date(), newId: randomUUID, usage: { messagesToday: async () => 0, activeKnights: async () => 0 } };
  const log = createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent');
  const policy = { ...DEFAULT_POLICY, ...(options.pollMs ? { pollMs: options.pollMs } : {}) };
  const bridge = { package: 'openclaw-service', platformUrl: 'ws://127.0.0.1:8090/bridge' };
  const pool = options.warmPool
    ? await createWarmPool({ db, schema, vms, size: options.warmPool, computerSize: policy.agentVmSize, namePrefix: policy.namePrefix, log, bridge })
    : undefined;
  const saga = await createProvisioningSaga({ store, codec, bus, db, schema, shell, vms, policy, log, pool, bridge, instanceId: schema, ...(process.env.BENCH_SAGA_CONCURRENCY ? { concurrency: Number(process.env.BENCH_SAGA_CONCURRENCY) } : {}) });
  await saga.start();
  return {
    store,
    codec,
    bus,
    ports,
    saga,
    pool,
    async close() {
      await saga.stop();
      await bus.close();
      await store.close();
      await db.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
};
