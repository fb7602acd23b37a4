import { unreachable } from '../shared/decider.ts';
import { domainError } from '../shared/errors.ts';
import { requireActiveTenant } from '../tenant/facts.ts';
import { TIER_LIMITS } from '../tiers.ts';
import type * as C from './commands.ts';
import type { KnightCommand } from './commands.ts';
import type { KnightEvent, KnightRequested } from './events.ts';
import type { ExistingKnight, KnightState, KnightStatus } from './state.ts';
import * as v from './validate.ts';

type Events = readonly KnightEvent[];

const existing = (state: KnightState): ExistingKnight => {
  if (state.status === 'none') throw domainError('not_found', 'knight_not_found', 'knight not found');
  return state;
};

const invalidTransition = (from: KnightStatus, to: KnightStatus) =>
  domainError('conflict', 'invalid_knight_transition', `a knight cannot go from ${from} to ${to}`, { from, to });

const deploy = (c: C.DeployKnight, state: KnightState): Events => {
  const tier = requireActiveTenant(c.tenant);
  const requested: KnightRequested['data'] = {
    knightId: v.checkKnightId(c.knightId),
    tenantId: v.checkTenantId(c.tenantId),
    task: v.checkText(c.task, 1, 2000, 'invalid_knight_task', 'task'),
    spec: v.checkSpec(c.spec),
    at: c.at,
  };
  if (state.status !== 'none') {
    const { knightId, tenantId, task, spec } = state;
    const same = knightId === requested.knightId && tenantId === requested.tenantId && task === requested.task;
    if (same && spec.cpu === requested.spec.cpu && spec.ramGb === requested.spec.ramGb) return [];
    throw domainError('conflict', 'knight_exists', 'a knight with this id exists');
  }
  const { knightsAtOnce: limit, knightMaxCpu, knightMaxRamGb } = TIER_LIMITS[tier];
  if (requested.spec.cpu > knightMaxCpu || requested.spec.ramGb > knightMaxRamGb)
    throw domainError(
      'limit',
      'knight_spec_over_tier',
      `the ${tier} tier allows knights of at most ${knightMaxCpu} CPUs and ${knightMaxRamGb} GB RAM`,
      { tier, maxCpu: knightMaxCpu, maxRamGb: knightMaxRamGb },
    );
  if (v.checkCount(c.activeKnights, 'invalid_active_knights', 'activeKnights') >= limit)
    throw domainError('limit', 'knight_limit_reached', `the ${tier} tier allows ${limit} knights at once`, { tier, limit });
  return [{ type: 'KnightRequested', data: requested }];
};

const startProvisioning = (c: C.StartKnightProvisioning, state: KnightState): Events => {
  const knight = existing(state);
  const vmName = v.checkToken(c.vmName, 'invalid_vm_name', 'vm name');
  if (knight.status === 'requested') return [{ type: 'KnightProvisioningStarted', data: { vmName, at: c.at } }];
  if (knight.vmName === vmName) return [];
  throw invalidTransition(knight.status, 'provisioning');
};

const markProvisioned = (c: C.MarkKnightProvisioned, state: KnightState): Events => {
  const knight = existing(state);
  const vmId = v.checkToken(c.vmId, 'invalid_vm_id', 'vm id');
  const url = v.checkUrl(c.url);
  if (knight.status === 'provisioning') return [{ type: 'KnightProvisioned', data: { vmId, url, at: c.at } }];
  if (knight.vmId === vmId) return [];
  throw invalidTransition(knight.status, 'provisioned');
};

const startTask = (c: C.StartKnightTask, state: KnightState): Events => {
  requireActiveTenant(c.tenant);
  const knight = existing(state);
  const taskId = v.checkToken(c.taskId, 'invalid_task_id', 'task id');
  const description = v.checkText(c.description, 1, 2000, 'invalid_task_description', 'task description');
  if (knight.lastTaskId === taskId) return [];
  switch (knight.status) {
    case 'provisioned':
      return [{ type: 'KnightTaskStarted', data: { taskId, description, at: c.at } }];
    case 'working':
      throw domainError('conflict', 'knight_busy', 'the knight is working on another task', { taskId: knight.currentTask.taskId });
    case 'requested':
    case 'provisioning':
      throw domainError('conflict', 'knight_not_ready', 'the knight is not provisioned yet');
    default:
      throw invalidTransition(knight.status, 'working');
  }
};

const taskMismatch = (current: string) =>
  domainError('conflict', 'knight_task_mismatch', 'the knight is working on another task', { taskId: current });

const reportProgress = (c: C.ReportKnightProgress, state: KnightState): Events => {
  const knight = existing(state);
  const taskId = v.checkToken(c.taskId, 'invalid_task_id', 'task id');
  const percent = v.checkPercent(c.percent);
  const note = v.checkText(c.note, 0, 500, 'invalid_progress_note', 'note');
  if (knight.status !== 'working') {
    if (knight.lastTaskId === taskId) return []; // a late report for a task that has ended
    throw invalidTransition(knight.status, 'working');
  }
  const current = knight.currentTask;
  if (current.taskId !== taskId) throw taskMismatch(current.taskId);
  if (percent < current.percent)
    throw domainError('validation', 'knight_progress_backwards', `progress cannot go back from ${current.percent}%`, {
      percent: current.percent,
    });
  if (percent === current.percent && note === current.note) return [];
  return [{ type: 'KnightTaskProgressed', data: { taskId, percent, note, at: c.at } }];
};

const completeTask = (c: C.CompleteKnightTask, state: KnightState): Events => {
  const knight = existing(state);
  const taskId = v.checkToken(c.taskId, 'invalid_task_id', 'task id');
  if (typeof c.result !== 'string' || c.result.length > 16_000)
    throw domainError('validation', 'invalid_task_result', 'result must be text of at most 16000 characters');
  if (knight.status === 'working') {
    if (knight.currentTask.taskId !== taskId) throw taskMismatch(knight.currentTask.taskId);
    const screenshotUrl = v.checkUrl(c.screenshotUrl ?? null);
    return [{ type: 'KnightTaskCompleted', data: { taskId, result: c.result, screenshotUrl, at: c.at } }];
  }
  if (knight.lastCompletedTaskId === taskId) return [];
  throw invalidTransition(knight.status, 'provisioned');
};

/** A failure reported once the knight has failed or is going away changes nothing. */
const fail = (c: C.FailKnight, state: KnightState): Events => {
  const knight = existing(state);
  const reason = v.checkText(c.reason, 1, 500, 'invalid_reason', 'reason');
  const stage = v.checkFailureStage(c.stage);
  const over = knight.status === 'failed' || knight.status === 'terminating' || knight.status === 'terminated';
  return over ? [] : [{ type: 'KnightFailed', data: { stage, reason, at: c.at } }];
};

/** Allowed whatever the tenant's status: stopping spend never waits on billing or suspension. */
const requestTermination = (c: C.RequestKnightTermination, state: KnightState): Events => {
  const knight = existing(state);
  const reason = v.checkText(c.reason, 1, 500, 'invalid_reason', 'reason');
  if (knight.status === 'terminating' || knight.status === 'terminated') return [];
  return [{ type: 'KnightTerminationRequested', data: { reason, at: c.at } }];
};

const markTerminated = (c: C.MarkKnightTerminated, state: KnightState): Events => {
  const knight = existing(state);
  if (knight.status === 'terminated') return [];
  if (knight.status !== 'terminating') throw invalidTransition(knight.status, 'terminated');
  return [{ type: 'KnightTerminated', data: { at: c.at } }];
};

export const decideKnight = (command: KnightCommand, state: KnightState): Events => {
  switch (command.type) {
    case 'DeployKnight':
      return deploy(command, state);
    case 'StartKnightProvisioning':
      return startProvisioning(command, state);
    case 'MarkKnightProvisioned':
      return markProvisioned(command, state);
    case 'StartKnightTask':
      return startTask(command, state);
    case 'ReportKnightProgress':
      return reportProgress(command, state);
    case 'CompleteKnightTask':
      return completeTask(command, state);
    case 'FailKnight':
      return fail(command, state);
    case 'RequestKnightTermination':
      return requestTermination(command, state);
    case 'MarkKnightTerminated':
      return markTerminated(command, state);
    default:
      return unreachable(command);
  }
};
