import type { KnightCommand, KnightEvent, KnightFailureStage } from '../knight/index.ts';
import { evolveKnight, initialKnightState } from '../knight/state.ts';
import type { KnightState } from '../knight/state.ts';
import { unreachable } from '../shared/decider.ts';
import { epochMs } from '../shared/time.ts';
import { backoffMs, clip, providerReason, seconds, stepForComputer, waitUntil } from './job.ts';
import type { JobAction, JobInput, Observation, ProcessManager, ProvisioningPolicy } from './job.ts';
import { knightComputerName } from './names.ts';

/**
 * A knight's provisioning: requested → name its computer → computer running → task started →
 * OpenClaw installed (progress 30 %) → task run → completed; a termination request deletes the
 * computer and records KnightTerminated; a failure is recorded first, then its computer deleted.
 */
export interface KnightJobState {
  readonly knight: KnightState;
  /** When the knight entered its current status: deadlines count from here, so they survive restarts. */
  readonly since: string | null;
}

type Action = JobAction<KnightCommand>;

/** The one task a knight is deployed with. */
export const KNIGHT_TASK_ID = 'task-1';
/** Progress once OpenClaw runs on the knight, before the task itself. */
export const PREPARED_PERCENT = 30;

const evolve = (state: KnightJobState, event: KnightEvent): KnightJobState => {
  const knight = evolveKnight(state.knight, event);
  return { knight, since: knight.status !== state.knight.status ? event.data.at : state.since };
};

const fail = (stage: KnightFailureStage, reason: string): Action => ({
  type: 'Record',
  command: { type: 'FailKnight', stage, reason: clip(reason, 500) },
});

const wait = (until: number, why: string): Action => waitUntil(until, why);

/** What a failed call means while the knight is still being built: try again before the deadline, or fail. */
const afterFailure = (o: Extract<Observation, { type: 'ProviderFailed' }>, stage: KnightFailureStage, deadline: number, input: JobInput, policy: ProvisioningPolicy): Action => {
  switch (o.failure) {
    case 'unauthorized':
      return fail(stage, providerReason(o));
    case 'fatal':
      return fail(stage, providerReason(o));
    case 'gone': {
      if (stage !== 'provisioning') return fail('vm_lost', 'the knight’s computer no longer exists');
      // looked for again, with the backoff of any failure: a 404 that keeps coming must not spin the job
      const retryAt = input.now + backoffMs(policy, o.attempt);
      if (retryAt >= deadline) return fail(stage, providerReason(o, true));
      return wait(retryAt, 'the computer is gone: look for it again');
    }
    case 'transient': {
      const retryAt = input.now + backoffMs(policy, o.attempt);
      if (retryAt >= deadline) return fail(stage, providerReason(o, true));
      return wait(retryAt, `retry after: ${o.message}`);
    }
    default:
      return unreachable(o.failure);
  }
};

/** While a computer is being deleted: retry until it is gone, slowly when our credentials are refused. */
const afterDeleteFailure = (o: Extract<Observation, { type: 'ProviderFailed' }>, input: JobInput, policy: ProvisioningPolicy): Action =>
  o.failure === 'unauthorized' || o.failure === 'fatal'
    ? wait(input.now + policy.refusedRetryMs, `deletion refused: ${o.message}`)
    : wait(input.now + backoffMs(policy, o.attempt), `deletion failed: ${o.message}`);

const provisioning = (state: KnightJobState & { knight: { status: 'provisioning' } }, input: JobInput, policy: ProvisioningPolicy): Action => {
  const { knight } = state;
  const deadline = epochMs(state.since ?? '') + policy.knightProvisionMs;
  const o = input.observation;
  if (o.type === 'ProviderFailed') return afterFailure(o, 'provisioning', deadline, input, policy);
  if (input.now >= deadline) return fail('provisioning', `the computer was not running within ${seconds(policy.knightProvisionMs)}`);
  if (o.type !== 'ComputerSeen') return { type: 'ProvideComputer', name: knight.vmName!, size: knight.spec, purpose: 'knight' };
  const { vm } = o;
  return stepForComputer<KnightCommand>(
    vm,
    { type: 'Record', command: { type: 'MarkKnightProvisioned', vmId: vm.id, url: vm.url } },
    (reason) => fail('provisioning', reason),
    Math.min(input.now + policy.pollMs, deadline),
  );
};

const working = (state: KnightJobState & { knight: { status: 'working' } }, input: JobInput, policy: ProvisioningPolicy): Action => {
  const { knight } = state;
  const task = knight.currentTask;
  const stage: KnightFailureStage = task.percent < PREPARED_PERCENT ? 'bootstrap' : 'task';
  const deadline = epochMs(state.since ?? '') + policy.knightTaskMs;
  const o = input.observation;
  switch (o.type) {
    case 'Prepared':
      return { type: 'Record', command: { type: 'ReportKnightProgress', taskId: task.taskId, percent: PREPARED_PERCENT, note: 'OpenClaw is running on the knight' } };
    case 'PrepareFailed':
      return fail('bootstrap', `${o.step} exited with ${o.exitCode}${o.output ? `: ${clip(o.output.trim(), 300)}` : ''}`);
    case 'TaskFinished':
      if (o.exitCode !== 0) return fail('task', `the task exited with ${o.exitCode}${o.output ? `: ${clip(o.output.trim(), 300)}` : ''}`);
      return { type: 'Record', command: { type: 'CompleteKnightTask', taskId: task.taskId, result: clip(o.output, 16_000), screenshotUrl: o.screenshotUrl } };
    case 'ProviderFailed':
      return afterFailure(o, stage, deadline, input, policy);
    default:
      if (input.now >= deadline) return fail(stage, `the task did not finish within ${seconds(policy.knightTaskMs)}`);
      return task.percent < PREPARED_PERCENT
        ? { type: 'Prepare', vmId: knight.vmId!, owner: knight.vmName!, purpose: 'knight', tenantId: knight.tenantId }
        : { type: 'RunTask', vmId: knight.vmId!, taskId: task.taskId, task: knight.task };
  }
};

const decide = (input: JobInput, state: KnightJobState, policy: ProvisioningPolicy): Action => {
  const { knight } = state;
  const o = input.observation;
  if (knight.status === 'none' || knight.status === 'terminated') return { type: 'Done' };
  // A suspended or erased tenant's knights stop: the spend ends with the tenant's standing.
  if (input.tenant.status !== 'active' && knight.status !== 'terminating')
    return { type: 'Record', command: { type: 'RequestKnightTermination', reason: `the tenant is ${input.tenant.status === 'none' ? 'gone' : input.tenant.status}` } };
  switch (knight.status) {
    case 'requested':
      return { type: 'Record', command: { type: 'StartKnightProvisioning', vmName: knightComputerName(policy.namePrefix, knight.tenantId, knight.knightId) } };
    case 'provisioning':
      return provisioning({ ...state, knight }, input, policy);
    case 'provisioned':
      if (knight.lastTaskId !== null) return { type: 'Done' }; // its task is done: idle until terminated
      return { type: 'Record', command: { type: 'StartKnightTask', taskId: KNIGHT_TASK_ID, description: knight.task, tenant: input.tenant } };
    case 'working':
      return working({ ...state, knight }, input, policy);
    case 'failed':
    case 'terminating':
      // a computer already gone is the end a deletion wants: never a reason to stay `terminating`
      if (o.type === 'ProviderFailed' && o.failure !== 'gone') return afterDeleteFailure(o, input, policy);
      if (knight.vmName === null || o.type === 'ComputerDeleted' || o.type === 'ProviderFailed')
        return knight.status === 'failed' ? { type: 'Done' } : { type: 'Record', command: { type: 'MarkKnightTerminated' } };
      return { type: 'DeleteComputer', name: knight.vmName, vmId: knight.vmId };
    default:
      return unreachable(knight);
  }
};

export const knightJob: ProcessManager<KnightEvent, KnightJobState, KnightCommand> = {
  initialState: () => ({ knight: initialKnightState(), since: null }),
  evolve,
  decide,
};
