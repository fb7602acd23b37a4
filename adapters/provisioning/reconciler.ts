import type { Logger } from 'pino';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { knightDecider } from '../../domain/knight/index.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import { reconcile } from '../../domain/provisioning/reconcile.ts';
import { knightStream, tenantStream } from '../../domain/shared/streams.ts';
import { tenantDecider } from '../../domain/tenant/index.ts';
import { computerOwners } from '../../projections/provisioning-reads.ts';
import type { TxDb } from '../../projections/provisioning-reads.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { WarmPool } from './pool.ts';

export interface ReconcilerDeps {
  /** The read models' database and schema. */
  readonly db: TxDb;
  readonly schema: string;
  readonly vms: VmProvider;
  readonly shell: CommandShell;
  readonly namePrefix: string;
  readonly log: Logger;
  readonly pool?: WarmPool | undefined;
  readonly clock?: () => Date;
  /** Computers and knights younger than this are left alone (their events may still be on the way). */
  readonly graceMs?: number;
  /**
   * How far behind the log the knights and tenants read models are (seconds since the oldest event
   * they have not applied). A computer's owner is recorded before it is made, so while they are less
   * than the grace behind, every computer older than the grace has its owner in them; further behind,
   * the round is skipped: a stopped projector must never make customers' computers look like orphans.
   */
  readonly readModelsLagSeconds?: () => Promise<number>;
}

export const RECONCILER_ACTOR = 'saga:reconciler';
/** What a tenant whose ready agent VM vanished is told (AgentVmFailed, stage vm_lost). */
export const AGENT_VM_LOST_REASON = 'the agent VM’s computer no longer exists at the VM provider; request the agent VM again';
const DEFAULT_GRACE_MS = 10 * 60_000;

/** Orgo's own timestamp format may differ from ours: anything unreadable counts as unknown (and old). */
const createdMs = (iso: string | null): number | null => {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(ms) ? null : ms;
};

/**
 * Compares the workspace's computers with the knights and tenants read models: deletes this
 * platform's orphans (by name prefix; never anyone else's computer) and marks knights whose
 * computer vanished, and ready agent VMs whose computer vanished, as failed (stage vm_lost; each
 * confirmed by reading its computer by id first, never from the listing alone),
 * which the saga then winds up. A lost agent VM is not provisioned again by itself: the tenant
 * (POST /tenants/me/agent-vm) or an operator requests it again, as after any failure.
 */
export const createReconciler = (deps: ReconcilerDeps) => {
  const clock = deps.clock ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<unknown> | undefined;

  const runOnce = async (options: { graceMs?: number } = {}): Promise<{ orphans: string[]; vanished: string[]; lostAgents: string[]; skipped?: string }> => {
    const configuredGraceMs = deps.graceMs ?? DEFAULT_GRACE_MS;
    const behind = await deps.readModelsLagSeconds?.();
    if (behind !== undefined && behind * 1_000 > configuredGraceMs) {
      const skipped = `the read models are ${Math.round(behind)} s behind the log, more than the ${configuredGraceMs / 1_000} s grace`;
      deps.log.warn({ lagSeconds: behind }, `reconciliation skipped: ${skipped}`);
      return { orphans: [], vanished: [], lostAgents: [], skipped };
    }
    // Owners first, computers second: a computer made in between is young, and young ones stay.
    const owners = await computerOwners(deps.db, deps.schema);
    const inventory = (await deps.vms.list()).map((vm) => ({ id: vm.id, name: vm.name, createdAtMs: createdMs(vm.createdAt) }));
    const decision = reconcile({
      prefix: deps.namePrefix,
      now: clock().getTime(),
      graceMs: options.graceMs ?? configuredGraceMs,
      inventory,
      knights: owners.knights,
      tenants: owners.tenants,
      warm: deps.pool ? await deps.pool.names() : new Set(),
    });
    for (const orphan of decision.orphans) {
      await deps.vms.remove(orphan.id);
      deps.log.warn({ vmId: orphan.id, name: orphan.name }, 'deleted an orphan computer');
    }
    const vanished: string[] = [];
    for (const k of decision.vanished) {
      // confirmed one by one too: a listing that left a computer out (or a workspace that read as empty)
      // must not fail a knight whose computer is still there
      const gone = await deps.vms.get(k.vmId!).then(
        () => false,
        (error: unknown) => deps.vms.classify(error) === 'gone',
      );
      if (!gone) {
        deps.log.info({ tenantId: k.tenantId, knightId: k.knightId, vmId: k.vmId }, 'a knight’s computer missing from the listing is still there; left alone');
        continue;
      }
      await deps.shell.handle(knightDecider, {
        streamId: knightStream(k.tenantId as never, k.knightId as never),
        command: { type: 'FailKnight', stage: 'vm_lost', reason: 'the knight’s computer no longer exists at Orgo', at: clock().toISOString() },
        metadata: { tenantId: k.tenantId, actor: RECONCILER_ACTOR, correlationId: `reconcile:${k.tenantId}.${k.knightId}`, causationId: null },
      });
      deps.log.warn({ tenantId: k.tenantId, knightId: k.knightId, vmId: k.vmId }, 'a knight’s computer vanished');
      vanished.push(`${k.tenantId}.${k.knightId}`);
    }
    const lostAgents: string[] = [];
    for (const t of decision.lostAgents) {
      // confirmed one by one before anything is recorded: a listing that left a computer out must not fail a tenant's agent
      const gone = await deps.vms.get(t.agentVmId).then(
        () => false,
        (error: unknown) => deps.vms.classify(error) === 'gone',
      );
      if (!gone) continue;
      try {
        await deps.shell.handle(tenantDecider, {
          streamId: tenantStream(t.tenantId as never),
          command: { type: 'FailAgentVm', requestId: t.agentVmRequestId, stage: 'vm_lost', reason: AGENT_VM_LOST_REASON, at: clock().toISOString() },
          metadata: { tenantId: t.tenantId, actor: RECONCILER_ACTOR, correlationId: `reconcile:${t.tenantId}.${t.agentVmRequestId}`, causationId: null },
        });
      } catch (error) {
        // the log moved on since the read model (a new request): that request is the saga's to judge
        if (!isAppError(error) || error.kind === 'unavailable') throw error;
        deps.log.info({ tenantId: t.tenantId, code: error.code }, 'a vanished agent VM is no longer the current one; left alone');
        continue;
      }
      deps.log.warn({ tenantId: t.tenantId, requestId: t.agentVmRequestId, vmId: t.agentVmId }, 'a ready agent VM’s computer vanished');
      lostAgents.push(t.tenantId);
    }
    return { orphans: decision.orphans.map((o) => o.name), vanished, lostAgents };
  };

  return {
    runOnce,
    start(intervalMs: number) {
      const tick = () => {
        round = runOnce()
          .catch((error: unknown) => deps.log.error({ err: error }, 'reconciliation failed; trying again at the next round'))
          .finally(() => {
            if (timer) timer = setTimeout(tick, intervalMs);
          });
      };
      timer = setTimeout(tick, intervalMs);
    },
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await round;
    },
  };
};
