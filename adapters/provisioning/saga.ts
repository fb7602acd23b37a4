import type { BridgeSettings } from './scripts.ts';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Decoded, EventType } from '../../domain/events.ts';
import { consumeDecoded } from '../bus/decoded.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import type { ProvisioningPolicy } from '../../domain/provisioning/job.ts';
import type { SqlDb } from '../event-store/sql/db.ts';
import { createWakeup } from '../event-store/sql/wakeup.ts';
import { createEffects } from './effects.ts';
import { createJobsTable } from './jobs-table.ts';
import type { WarmPool } from './pool.ts';
import { createStepper, SAGA_ACTOR } from './step.ts';
import { createWakeRules } from './wakes.ts';

export interface ProvisioningSagaDeps {
  readonly store: EventStore;
  /** Decodes what the bus delivers (raw stored events) and the streams the jobs fold. */
  readonly codec: EventCodec;
  readonly bus: Bus;
  /** Where the saga keeps its timers (and the warm pool its rows). */
  readonly db: SqlDb;
  readonly schema: string;
  readonly shell: CommandShell;
  readonly vms: VmProvider;
  readonly policy: ProvisioningPolicy;
  readonly log: Logger;
  readonly clock?: () => Date;
  readonly pool?: WarmPool | undefined;
  /** Jobs stepped at once (default 64: most of a step is waiting on Orgo or the database). */
  readonly concurrency?: number;
  /** Names this process's leases; a restart under the same id takes them back at once (default: the host name). */
  readonly instanceId?: string;
  /** How long a step may hold its job before others may take it (default 5 minutes). */
  readonly leaseMs?: number;
  readonly consumer?: string;
  /** What an agent VM's bridge installs and dials (scripts.ts). */
  readonly bridge: BridgeSettings;
}

const KNIGHT_EVENTS: EventType[] = [
  'KnightRequested', 'KnightProvisioningStarted', 'KnightProvisioned', 'KnightTaskStarted', 'KnightTaskProgressed',
  'KnightTaskCompleted', 'KnightFailed', 'KnightTerminationRequested', 'KnightTerminated',
];
const TENANT_EVENTS: EventType[] = ['TenantCreated', 'TenantTierChanged', 'AgentVmRequested', 'AgentVmReady', 'AgentVmFailed', 'TenantSuspended', 'TenantReinstated', 'TenantErased'];

/**
 * The provisioning saga (role `saga`): a Bus consumer that turns events into due jobs, and a
 * scheduler that steps due jobs, a few at once. The consumer only writes timer rows, so its
 * checkpoint moves on quickly and a crash loses nothing: the rows are the saga's memory.
 */
export const createProvisioningSaga = async (deps: ProvisioningSagaDeps) => {
  const { log, policy } = deps;
  const clock = deps.clock ?? (() => new Date());
  const concurrency = deps.concurrency ?? 64;
  const leaseMs = deps.leaseMs ?? 5 * 60_000;
  const jobs = await createJobsTable(deps.db, deps.schema, deps.instanceId ?? hostname());
  const effects = createEffects({ vms: deps.vms, pool: deps.pool, bridge: deps.bridge });
  const stepper = createStepper({ store: deps.store, codec: deps.codec, shell: deps.shell, effects, jobs, policy, clock, log });
  const kick = createWakeup();
  const inFlight = new Map<string, Promise<void>>();
  let running = false;
  let loop: Promise<void> | undefined;
  let subscription: BusSubscription | undefined;
  /** Ends the pause before the consumer is started again at once on stop(), so no timer keeps the process alive. */
  let stopping = new AbortController();
  const paused = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  const wakesFor = createWakeRules({ store: deps.store, codec: deps.codec, shell: deps.shell, clock });

  /** Events arrive decoded in `stored` mode: nothing is decrypted here (the jobs decode their own streams). */
  const handle = async (decoded: readonly Decoded[]) => {
    const wake: string[] = [];
    for (const event of decoded.filter((e) => e.metadata.actor !== SAGA_ACTOR)) {
      try {
        wake.push(...(await wakesFor(event)));
      } catch (error) {
        if ((error as { kind?: string }).kind === 'unavailable') throw error; // redelivered after a pause
        log.error({ err: error, eventId: event.id, type: event.type }, 'saga could not act on an event; skipping it');
      }
    }
    await jobs.wake(wake);
    if (wake.length > 0) kick.notify();
  };

  const step = (job: { streamId: string; wakes: number; attempts: number }) => {
    // A step may run longer than the lease (an agent VM's bootstrap is minutes of commands): renewed
    // while it runs, so another saga process does not claim the job and repeat its effects meanwhile.
    const renewal = setInterval(() => void jobs.renew(job.streamId, leaseMs).catch(() => undefined), Math.max(leaseMs / 3, 50));
    renewal.unref();
    const work = stepper
      .run(job)
      .catch(async (error: unknown) => {
        log.error({ err: error, streamId: job.streamId }, 'saga step failed; trying again shortly');
        await jobs.reschedule(job, clock().getTime() + 5_000, job.attempts + 1, 'step failed').catch(() => undefined);
      })
      .finally(() => {
        clearInterval(renewal);
        inFlight.delete(job.streamId);
        kick.notify();
      });
    inFlight.set(job.streamId, work);
  };

  const schedule = async () => {
    while (running) {
      const seen = kick.generation;
      try {
        const free = concurrency - inFlight.size;
        const due = await jobs.claimDue(free, leaseMs);
        for (const job of due) if (!inFlight.has(job.streamId)) step(job);
        if (due.length > 0 && due.length === free) continue;
        await kick.wait(seen, inFlight.size >= concurrency ? 1_000 : await jobs.msUntilNext(1_000));
      } catch (error) {
        log.error({ err: error }, 'saga scheduler failed; retrying');
        await kick.wait(seen, 1_000);
      }
    }
  };

  /** The bus consumer; should it fail (a database outage), it is started again from its checkpoint. */
  const consume = async (): Promise<void> => {
    while (running) {
      try {
        const current = await consumeDecoded(
          deps.bus,
          deps.codec,
          deps.consumer ?? 'provisioning-saga',
          { categories: ['knight', 'tenant'], eventTypes: [...KNIGHT_EVENTS, ...TENANT_EVENTS], batchSize: 500, decode: 'stored' },
          handle,
        );
        subscription = current;
        // stopped while it was starting: stop() closed the one before, so this one is ours to close
        if (!running) {
          await current.close();
          return;
        }
        current.done.catch((error: unknown) => {
          if (!running) return;
          log.error({ err: error }, 'saga consumer failed; starting it again from its checkpoint');
          void paused(1_000).then(consume);
        });
        return;
      } catch (error) {
        log.error({ err: error }, 'saga consumer could not start; trying again');
        await paused(1_000);
      }
    }
  };

  return {
    async start() {
      await jobs.releaseOwn();
      running = true;
      stopping = new AbortController();
      deps.pool?.start();
      await consume();
      loop = schedule();
    },
    /** Stops taking jobs; steps under way get `graceMs` to end (their leases go back at the next start). */
    async stop(graceMs = 10_000) {
      running = false;
      stopping.abort();
      kick.notify();
      await subscription?.close();
      await loop;
      await deps.pool?.stop();
      await Promise.race([Promise.allSettled(inFlight.values()), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    },
    stats: () => ({ ...stepper.stats, inFlight: inFlight.size }),
    pending: () => jobs.pending(),
  };
};

export type ProvisioningSaga = Awaited<ReturnType<typeof createProvisioningSaga>>;
