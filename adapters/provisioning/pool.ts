import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { warmComputerName } from '../../domain/provisioning/names.ts';
import type { VmProvider, VmSize } from '../../domain/ports/vm-provider.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';
import { warmSteps } from './scripts.ts';
import type { BridgeSettings } from './scripts.ts';

export interface WarmPoolOptions {
  readonly db: SqlDb;
  readonly schema: string;
  /** Names this process's leases on the computers it warms (SAGA_INSTANCE_ID; default: a new id). */
  readonly instanceId?: string;
  readonly vms: VmProvider;
  /** How many unclaimed computers to keep warm (ORGO_WARM_POOL). */
  readonly size: number;
  readonly computerSize: VmSize;
  readonly namePrefix: string;
  readonly log: Logger;
  readonly pollMs?: number;
  /**
   * How long a warm computer may take to be running (default 15 minutes); past it, it is discarded and
   * replaced. Without it a status that never becomes running (one Orgo added since, read as `unknown`)
   * held its slot, and a billed computer, for good.
   */
  readonly warmDeadlineMs?: number;
  /** The bridge every warm computer gets installed. */
  readonly bridge: BridgeSettings;
}

/**
 * Computers created and bootstrapped (OpenClaw and the bridge installed, no token yet) before
 * anyone asks, so a new tenant's agent — or a knight of the same size — starts in seconds. A claim
 * is a row update, atomic across saga processes, and repeatable: the same owner gets the same
 * computer back. Claimed computers keep their warm name; rows stay until their owner deletes the
 * computer, so reconciliation never takes them for orphans. Several saga processes may share the
 * pool (a rolling deploy overlaps two): a refill counts and fills the gap under a lock, and a warming
 * computer is warmed by the one process that holds its lease.
 */
export const createWarmPool = async (options: WarmPoolOptions) => {
  const s = checkSchemaName(options.schema);
  const table = `${s}.provisioning_pool`;
  const { db, vms, log } = options;
  const pollMs = options.pollMs ?? 500;
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${table} (
      name text PRIMARY KEY,
      vm_id text,
      cpu integer NOT NULL,
      ram_gb integer NOT NULL,
      status text NOT NULL,
      claimed_by text UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS warmed_by text, ADD COLUMN IF NOT EXISTS warm_until timestamptz;`));
  const instanceId = options.instanceId ?? randomUUID();
  /** How long a warm-up may go without renewing its lease before another process takes the computer over. */
  const leaseMs = Math.max(60_000, pollMs * 20);
  const renew = (name: string) =>
    db.query(`UPDATE ${table} SET warm_until = now() + make_interval(secs => $3::float8 / 1000) WHERE name = $1 AND warmed_by = $2`, [name, instanceId, leaseMs]);

  const warming = new Set<string>();
  let running = false;
  let refilling: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  /** One warm computer from its row to ready: find or create it, wait until running, bootstrap it. */
  const warmUp = async (name: string) => {
    const size = options.computerSize;
    let vm = (await vms.findByName(name)) ?? (await vms.create(name, size).catch(async (error: unknown) => {
      const found = await vms.findByName(name).catch(() => undefined);
      if (!found) throw error;
      return found;
    }));
    await db.query(`UPDATE ${table} SET vm_id = $2 WHERE name = $1`, [name, vm.id]);
    const deadline = Date.now() + (options.warmDeadlineMs ?? 15 * 60_000);
    while (running && vm.status !== 'running') {
      if (vm.status === 'error' || vm.status === 'deleting') throw new Error(`warm computer ${name} is ${vm.status}`);
      if (Date.now() > deadline) throw new Error(`warm computer ${name} is still ${vm.status} past its deadline`);
      if (vm.status === 'stopped' || vm.status === 'suspended') await vms.start(vm.id);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      vm = await vms.get(vm.id);
      await renew(name);
    }
    if (!running) return;
    for (const step of warmSteps(options.bridge)) {
      await renew(name);
      const result = await vms.bash(vm.id, step.command, step.timeoutSeconds);
      if (result.exitCode !== 0) throw new Error(`${step.name} exited with ${result.exitCode}`);
    }
    await db.query(`UPDATE ${table} SET status = 'ready' WHERE name = $1 AND status = 'warming'`, [name]);
  };

  const discard = async (name: string) => {
    const { rows } = await db.query<{ vm_id: string | null }>(`DELETE FROM ${table} WHERE name = $1 AND status = 'warming' RETURNING vm_id`, [name]);
    const vmId = rows[0]?.vm_id ?? (await vms.findByName(name).catch(() => undefined))?.id;
    if (vmId) await vms.remove(vmId).catch(() => undefined); // reconciliation deletes it otherwise
  };

  const refill = async () => {
    // the count and the rows that fill the gap under one lock: two processes would both fill the same gap
    await db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [table]);
      const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE status IN ('warming', 'ready')`);
      const missing = options.size - (rows[0]?.n ?? 0);
      for (let i = 0; i < missing; i++)
        await tx.query(`INSERT INTO ${table} (name, cpu, ram_gb, status) VALUES ($1, $2, $3, 'warming')`, [
          warmComputerName(options.namePrefix, randomUUID().slice(0, 12)),
          options.computerSize.cpu,
          options.computerSize.ramGb,
        ]);
    });
    // the warming computers no other live process is warming (its lease ran out: it died) become ours
    const pending = await db.query<{ name: string }>(
      `UPDATE ${table} SET warmed_by = $1, warm_until = now() + make_interval(secs => $2::float8 / 1000)
       WHERE status = 'warming' AND (warmed_by IS NULL OR warmed_by = $1 OR warm_until < now())
       RETURNING name`,
      [instanceId, leaseMs],
    );
    for (const { name } of pending.rows) {
      if (warming.has(name)) continue;
      warming.add(name);
      void warmUp(name)
        .catch(async (error: unknown) => {
          log.warn({ err: error, name }, 'a warm computer failed to get ready; replacing it');
          await discard(name).catch(() => undefined);
          schedule(5_000);
        })
        .finally(() => warming.delete(name));
    }
  };

  const schedule = (ms: number) => {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // one refill at a time: two that overlap both count the same gap and both fill it
      refilling = (refilling ?? Promise.resolve()).then(refill).catch((error: unknown) => log.warn({ err: error }, 'warm pool refill failed; trying again'));
      void refilling.finally(() => schedule(30_000));
    }, ms);
  };

  return {
    size: options.size,
    start() {
      running = options.size > 0;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await refilling;
    },
    /** A ready computer of that size for `owner` (the same one again on a repeat), or none. */
    async claim(owner: string, size: VmSize): Promise<{ vmId: string; name: string } | undefined> {
      const mine = await db.query<{ vm_id: string; name: string }>(`SELECT vm_id, name FROM ${table} WHERE claimed_by = $1`, [owner]);
      if (mine.rows[0]) return { vmId: mine.rows[0].vm_id, name: mine.rows[0].name };
      if (options.size === 0) return undefined;
      const { rows } = await db.query<{ vm_id: string; name: string }>(
        `UPDATE ${table} SET status = 'claimed', claimed_by = $1
         WHERE name = (SELECT name FROM ${table} WHERE status = 'ready' AND cpu = $2 AND ram_gb = $3 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING vm_id, name`,
        [owner, size.cpu, size.ramGb],
      );
      if (!rows[0]) return undefined;
      schedule(0); // refill in the background
      return { vmId: rows[0].vm_id, name: rows[0].name };
    },
    async claimOf(owner: string): Promise<{ vmId: string; name: string } | undefined> {
      const { rows } = await db.query<{ vm_id: string; name: string }>(`SELECT vm_id, name FROM ${table} WHERE claimed_by = $1`, [owner]);
      return rows[0] ? { vmId: rows[0].vm_id, name: rows[0].name } : undefined;
    },
    /** The owner's computer is gone: forget the claim. */
    async release(owner: string): Promise<void> {
      await db.query(`DELETE FROM ${table} WHERE claimed_by = $1`, [owner]);
    },
    /** Every computer name the pool holds (warming, ready or claimed): none of them is an orphan. */
    async names(): Promise<Set<string>> {
      const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${table}`);
      return new Set(rows.map((r) => r.name));
    },
    async counts(): Promise<Record<'warming' | 'ready' | 'claimed', number>> {
      const { rows } = await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM ${table} GROUP BY status`);
      const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      return { warming: by.warming ?? 0, ready: by.ready ?? 0, claimed: by.claimed ?? 0 };
    },
  };
};

export type WarmPool = Awaited<ReturnType<typeof createWarmPool>>;
