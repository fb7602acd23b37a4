import type { Logger } from 'pino';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { knightDecider } from '../../domain/knight/index.ts';
import type { KnightCommand } from '../../domain/knight/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { agentVmJob } from '../../domain/provisioning/agent-vm-job.ts';
import type { AgentVmJobState } from '../../domain/provisioning/agent-vm-job.ts';
import { backoffMs } from '../../domain/provisioning/job.ts';
import type { JobAction, Observation, ProcessManager, ProvisioningPolicy, Unstamped } from '../../domain/provisioning/job.ts';
import { knightJob } from '../../domain/provisioning/knight-job.ts';
import { agentComputerName } from '../../domain/provisioning/names.ts';
import type { KnightJobState } from '../../domain/provisioning/knight-job.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { parseStreamId, tenantStream } from '../../domain/shared/streams.ts';
import { tenantDecider, tenantFacts } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantFacts } from '../../domain/tenant/index.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import { TENANT_FACTS_MAX_AGE_MS } from '../../commands/context.ts';
import type { Effects } from './effects.ts';
import type { ClaimedJob, JobsTable } from './jobs-table.ts';
import { countSagaFailure, countSagaStep } from '../telemetry/metrics.ts';

/** The actor of every event the saga records; its own events do not wake its jobs again. */
export const SAGA_ACTOR = 'saga';
/** Decisions one step may take before it yields to other jobs. */
const MAX_DECISIONS = 25;

export interface StepDeps {
  readonly store: EventStore;
  /** Decodes the streams the jobs fold: `open`, since a knight's task is personal data the saga must run. */
  readonly codec: EventCodec;
  readonly shell: CommandShell;
  readonly effects: Effects;
  readonly jobs: JobsTable;
  readonly policy: ProvisioningPolicy;
  readonly clock: () => Date;
  readonly log: Logger;
}

export interface StepStats {
  decisions: number;
  effects: number;
  records: number;
}

/** A process manager as the shell's fold wants it: its category, state and evolve (it decides nothing through the shell). */
const foldable = <K extends 'knight' | 'tenant', E, S>(category: K, manager: ProcessManager<E, S, unknown>) => ({
  category,
  initialState: manager.initialState,
  evolve: manager.evolve,
  decide: () => [] as E[],
});
const knightFold = foldable('knight', knightJob);
const agentFold = foldable('tenant', agentVmJob);

/**
 * One step of one job: fold its stream, then decide → carry out → decide … until the decision is
 * to wait (the row gets that due time) or that nothing is left (the row goes). Records go through
 * the command shell like any other command, so a repeat after a crash appends nothing twice.
 */
export const createStepper = (deps: StepDeps) => {
  const { shell, jobs, policy, clock, log, effects } = deps;
  // Job states have a cache of their own: the command shell's holds the aggregates' states by stream.
  const states = createCommandShell({ store: deps.store, codec: deps.codec });
  const stats: StepStats = { decisions: 0, effects: 0, records: 0 };

  const record = async (streamId: string, tenantId: string, command: Unstamped<KnightCommand> | Unstamped<TenantCommand>, knight: boolean) => {
    const envelope = {
      streamId,
      command: { ...command, at: clock().toISOString() },
      metadata: { tenantId, actor: SAGA_ACTOR, correlationId: `saga:${streamId}`, causationId: null },
    };
    if (knight) await shell.handle(knightDecider, envelope as never);
    else await shell.handle(tenantDecider, envelope as never);
    stats.records++;
  };

  const tenantOf = async (tenantId: string): Promise<TenantFacts> =>
    tenantFacts((await shell.state(tenantDecider, tenantStream(tenantId as never), TENANT_FACTS_MAX_AGE_MS)).state);

  const run = async (job: ClaimedJob): Promise<void> => {
    const name = parseStreamId(job.streamId);
    const knight = name.category === 'knight';
    const load = async () =>
      knight ? (await states.state(knightFold, job.streamId)).state : (await states.state(agentFold, job.streamId)).state;
    let state: KnightJobState | AgentVmJobState = await load();
    let observation: Observation = { type: 'Woken' };
    let attempts = job.attempts;
    for (let i = 0; i < MAX_DECISIONS; i++) {
      const tenant = knight ? await tenantOf(name.tenantId) : tenantFacts((state as AgentVmJobState).tenant);
      const input = { observation, now: clock().getTime(), tenant };
      const action: JobAction<KnightCommand | TenantCommand> = knight
        ? knightJob.decide(input, state as KnightJobState, policy)
        : agentVmJob.decide(input, state as AgentVmJobState, policy);
      stats.decisions++;
      countSagaStep(action.type);
      switch (action.type) {
        case 'Done':
          return jobs.finish(job);
        case 'Wait':
          return jobs.reschedule(job, action.until, attempts, action.why);
        case 'Record':
          try {
            await record(job.streamId, name.tenantId, action.command, knight);
          } catch (error) {
            // A refused command (e.g. tenant facts a second stale) is looked at again later; an outage throws.
            if (!isAppError(error) || error.kind === 'unavailable') throw error;
            log.warn({ streamId: job.streamId, code: error.code, command: action.command.type }, 'saga command refused; looking again later');
            return jobs.reschedule(job, clock().getTime() + backoffMs(policy, attempts), attempts + 1, `refused: ${error.code}`);
          }
          attempts = 0;
          if (action.command.type === 'StartKnightProvisioning') effects.named(action.command.vmName);
          if (action.command.type === 'RequestAgentVm') effects.named(agentComputerName(policy.namePrefix, name.tenantId, action.command.requestId));
          state = await load();
          observation = { type: 'Woken' };
          break;
        default:
          stats.effects++;
          observation = await effects.run(action, attempts);
          if (observation.type === 'ProviderFailed') {
            attempts++;
            countSagaFailure(observation.during);
            // the provider's own words stay here, in the operator's log: a failure reason the tenant sees is stable text (providerReason)
            log.warn(
              { streamId: job.streamId, during: observation.during, failure: observation.failure, status: observation.status, attempt: observation.attempt, error: observation.message },
              'orgo call failed',
            );
          } else attempts = 0;
      }
    }
    return jobs.reschedule(job, clock().getTime(), attempts, 'yielded to other jobs');
  };

  return { run, stats };
};
