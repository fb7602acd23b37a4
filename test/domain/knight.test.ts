import { describe, expect, it } from 'vitest';
import { countsAgainstKnightLimit, evolveKnight, initialKnightState, knightDecider, knightsEndedByTierChange } from '../../domain/knight/index.ts';
import type { KnightAtTierChange } from '../../domain/knight/index.ts';
import type { KnightCommand, KnightEvent } from '../../domain/knight/index.ts';
import { asKnightId, asTenantId } from '../../domain/shared/ids.ts';
import type { TenantFacts } from '../../domain/tenant/index.ts';
import { spec } from '../support/decider-spec.ts';

const at = '2025-03-01T10:00:00.000Z';
const tenantId = asTenantId('acme');
const knightId = asKnightId('k-1');
const active: TenantFacts = { status: 'active', tier: 'free' };
const suspendedTenant: TenantFacts = { status: 'suspended', tier: 'free' };
const given = spec(knightDecider).given;

const requested: KnightEvent = {
  type: 'KnightRequested',
  data: { knightId, tenantId, task: 'Build website', spec: { cpu: 2, ramGb: 8 }, at },
};
const provisioning: KnightEvent = { type: 'KnightProvisioningStarted', data: { vmName: 'knight-k-1', at } };
const provisioned: KnightEvent = { type: 'KnightProvisioned', data: { vmId: 'vm-1', url: 'https://vm-1.orgo.test', at } };
const taskStarted: KnightEvent = { type: 'KnightTaskStarted', data: { taskId: 't1', description: 'Scaffold pages', at } };
const progressed = (percent: number, note = ''): KnightEvent => ({
  type: 'KnightTaskProgressed',
  data: { taskId: 't1', percent, note, at },
});
const completed: KnightEvent = { type: 'KnightTaskCompleted', data: { taskId: 't1', result: 'done', screenshotUrl: null, at } };
const failed: KnightEvent = { type: 'KnightFailed', data: { stage: 'task', reason: 'vm crashed', at } };
const terminationRequested: KnightEvent = { type: 'KnightTerminationRequested', data: { reason: 'user asked', at } };
const terminated: KnightEvent = { type: 'KnightTerminated', data: { at } };
const ready = [requested, provisioning, provisioned];
const working = [...ready, taskStarted];

const deploy = (extra: Partial<Extract<KnightCommand, { type: 'DeployKnight' }>> = {}): KnightCommand => ({
  type: 'DeployKnight',
  knightId,
  tenantId,
  task: ' Build website ',
  spec: { cpu: 2, ramGb: 8 },
  tenant: active,
  activeKnights: 0,
  at,
  ...extra,
});
const startTask = (taskId = 't1', tenant = active): KnightCommand => ({
  type: 'StartKnightTask',
  taskId,
  description: 'Scaffold pages',
  tenant,
  at,
});
const progress = (percent: number, note = '', taskId = 't1'): KnightCommand => ({
  type: 'ReportKnightProgress',
  taskId,
  percent,
  note,
  at,
});
const complete = (taskId = 't1'): KnightCommand => ({ type: 'CompleteKnightTask', taskId, result: 'done', screenshotUrl: null, at });
const terminate: KnightCommand = { type: 'RequestKnightTermination', reason: 'user asked', at };

describe('DeployKnight', () => {
  it('requests a knight', () => given([]).when(deploy()).then([requested]));
  it('is a no-op to deploy the same knight again', () => given([requested]).when(deploy()).thenNothing());
  it('refuses the same id with other details', () =>
    given([requested]).when(deploy({ spec: { cpu: 4, ramGb: 8 } })).thenThrows('knight_exists'));
  it('refuses a computer bigger than the tier allows, naming the limit', () => {
    const error = given([]).when(deploy({ spec: { cpu: 4, ramGb: 8 } })).thenThrows('knight_spec_over_tier');
    expect(error).toMatchObject({ kind: 'limit', details: { tier: 'free', maxCpu: 2, maxRamGb: 8 } });
    expect(error.message).toMatch(/at most 2 CPUs and 8 GB/);
    given([]).when(deploy({ spec: { cpu: 2, ramGb: 16 } })).thenThrows('knight_spec_over_tier');
    given([]).when(deploy({ spec: { cpu: 16, ramGb: 64 }, tenant: { status: 'active', tier: 'enterprise' } })).then([
      { type: 'KnightRequested', data: { ...requested.data, spec: { cpu: 16, ramGb: 64 } } } as KnightEvent,
    ]);
  });
  it('enforces the tier limit on knights at once', () => {
    expect(given([]).when(deploy({ activeKnights: 1 })).thenThrows('knight_limit_reached').kind).toBe('limit');
    given([]).when(deploy({ activeKnights: 4, tenant: { status: 'active', tier: 'pro' } })).then([requested]);
  });
  it('counts only knights at work against that limit: not a failed, terminating or terminated one', () => {
    const counts = (events: KnightEvent[]) => countsAgainstKnightLimit(events.reduce(evolveKnight, initialKnightState()).status);
    expect([[requested], [requested, provisioning], ready, working].map(counts)).toEqual([true, true, true, true]);
    expect([[...ready, failed], [requested, failed], [...working, terminationRequested], [...ready, terminationRequested, terminated]].map(counts)).toEqual([
      false, false, false, false,
    ]);
  });
  it('needs an active tenant', () => {
    given([]).when(deploy({ tenant: suspendedTenant })).thenThrows('tenant_suspended');
    given([]).when(deploy({ tenant: { status: 'none', tier: 'free' } })).thenThrows('tenant_not_found');
  });
  it('validates the task and the spec', () => {
    given([]).when(deploy({ task: '  ' })).thenThrows('invalid_knight_task');
    given([]).when(deploy({ task: 'x'.repeat(2001) })).thenThrows('invalid_knight_task');
    given([]).when(deploy({ spec: { cpu: 3, ramGb: 8 } as never })).thenThrows('invalid_knight_spec');
    given([]).when(deploy({ spec: { cpu: 2, ramGb: 128 } as never })).thenThrows('invalid_knight_spec');
  });
});

describe('provisioning', () => {
  const start: KnightCommand = { type: 'StartKnightProvisioning', vmName: 'knight-k-1', at };
  const mark: KnightCommand = { type: 'MarkKnightProvisioned', vmId: 'vm-1', url: 'https://vm-1.orgo.test', at };

  it('starts provisioning a requested knight; a repeat is a no-op', () => {
    given([requested]).when(start).then([provisioning]);
    given([requested, provisioning]).when(start).thenNothing();
  });
  it('marks it provisioned; a repeat with the same vm is a no-op', () => {
    given([requested, provisioning]).when(mark).then([provisioned]);
    given(ready).when(mark).thenNothing();
    given(working).when(mark).thenNothing();
  });
  it('refuses transitions out of order', () => {
    const error = given([requested]).when(mark).thenThrows('invalid_knight_transition');
    expect(error.details).toEqual({ from: 'requested', to: 'provisioned' });
    given(ready).when({ ...mark, vmId: 'vm-2' } as KnightCommand).thenThrows('invalid_knight_transition');
    given([requested, provisioning]).when({ ...start, vmName: 'other' } as KnightCommand).thenThrows('invalid_knight_transition');
  });
  it('refuses a missing knight', () => given([]).when(start).thenThrows('knight_not_found'));
});

describe('tasks', () => {
  it('starts a task on a provisioned knight', () => given(ready).when(startTask()).then([taskStarted]));
  it('refuses a task before the knight is provisioned', () => {
    given([requested]).when(startTask()).thenThrows('knight_not_ready');
    given([requested, provisioning]).when(startTask()).thenThrows('knight_not_ready');
  });
  it('refuses a second task while working; repeating the first is a no-op', () => {
    given(working).when(startTask('t2')).thenThrows('knight_busy');
    given(working).when(startTask('t1')).thenNothing();
  });
  it('refuses a task while the tenant is suspended', () =>
    given(ready).when(startTask('t1', suspendedTenant)).thenThrows('tenant_suspended'));
  it('reports progress that never goes backwards', () => {
    given(working).when(progress(40, 'pages drafted')).then([progressed(40, 'pages drafted')]);
    given([...working, progressed(40, 'pages drafted')]).when(progress(40, 'pages drafted')).thenNothing();
    const error = given([...working, progressed(40)]).when(progress(30)).thenThrows('knight_progress_backwards');
    expect(error.kind).toBe('validation');
    given(working).when(progress(101)).thenThrows('invalid_progress_percent');
    given(working).when(progress(1.5)).thenThrows('invalid_progress_percent');
  });
  it('accepts progress only for the current task', () => {
    given(working).when(progress(10, '', 't2')).thenThrows('knight_task_mismatch');
    given(ready).when(progress(10, '', 't2')).thenThrows('invalid_knight_transition');
    given([...working, completed]).when(progress(90)).thenNothing();
  });
  it('keeps the screenshot link given at completion, and refuses one that is not http(s)', () => {
    const shot = 'https://shots.orgo.test/vm-1.png';
    given(working).when({ ...complete(), screenshotUrl: shot } as KnightCommand).then([{ ...completed, data: { ...completed.data, screenshotUrl: shot } } as KnightEvent]);
    given(working).when({ ...complete(), screenshotUrl: 'javascript:alert(1)' } as KnightCommand).thenThrows('invalid_knight_url');
  });
  it('completes the current task and returns to idle', () => {
    const state = given(working).when(complete()).then([completed]);
    expect(state).toMatchObject({ status: 'provisioned', completedTasks: 1 });
    given([...working, completed]).when(complete()).thenNothing();
    given(working).when(complete('t2')).thenThrows('knight_task_mismatch');
    given(ready).when(complete('t2')).thenThrows('invalid_knight_transition');
  });
  it('takes another task after completing one', () =>
    given([...working, completed])
      .when(startTask('t2'))
      .then([{ type: 'KnightTaskStarted', data: { taskId: 't2', description: 'Scaffold pages', at } }]));
});

describe('FailKnight', () => {
  const fail: KnightCommand = { type: 'FailKnight', stage: 'task', reason: 'vm crashed', at };
  it('fails a live knight from any non-terminal state', () => {
    given([requested]).when(fail).then([failed]);
    given(working).when(fail).then([failed]);
  });
  it('is a no-op once failed, terminating or terminated', () => {
    given([...ready, failed]).when(fail).thenNothing();
    given([...ready, terminationRequested]).when(fail).thenNothing();
  });
  it('refuses work on a failed knight', () =>
    given([...ready, failed]).when(startTask()).thenThrows('invalid_knight_transition'));
  it('records the stage it failed at, and refuses an unknown stage', () => {
    const state = given([requested]).when({ ...fail, stage: 'provisioning' }).then([{ type: 'KnightFailed', data: { stage: 'provisioning', reason: 'vm crashed', at } }]);
    expect(state).toMatchObject({ status: 'failed', failureStage: 'provisioning', failureReason: 'vm crashed' });
    given([requested]).when({ ...fail, stage: 'lunch' as never }).thenThrows('invalid_failure_stage');
  });
});

describe('termination', () => {
  const mark: KnightCommand = { type: 'MarkKnightTerminated', at };
  it('requests termination from any state; it carries no tenant facts, so suspension cannot block it', () => {
    given(working).when(terminate).then([terminationRequested]);
    given([requested]).when(terminate).then([terminationRequested]);
    given([...ready, failed]).when(terminate).then([terminationRequested]);
  });
  it('terminating twice is a no-op', () => {
    given([...ready, terminationRequested]).when(terminate).thenNothing();
    given([...ready, terminationRequested, terminated]).when(terminate).thenNothing();
  });
  it('marks the knight terminated, idempotently', () => {
    given([...ready, terminationRequested]).when(mark).then([terminated]);
    given([...ready, terminationRequested, terminated]).when(mark).thenNothing();
  });
  it('refuses to mark terminated without a termination request', () => {
    const error = given(ready).when(mark).thenThrows('invalid_knight_transition');
    expect(error.details).toEqual({ from: 'provisioned', to: 'terminated' });
  });
  it('keeps a terminated knight terminated', () => {
    const gone = [...ready, terminationRequested, terminated];
    given(gone).when(startTask('t9')).thenThrows('invalid_knight_transition');
    given(gone).when({ type: 'StartKnightProvisioning', vmName: 'again', at }).thenThrows('invalid_knight_transition');
    given(gone).when(deploy()).thenNothing();
  });
});

describe('a tier change ends the knights the new tier does not allow', () => {
  const live = (knightId: string, cpu: 2 | 8 | 16 = 2, ramGb: 4 | 32 | 64 = 4): KnightAtTierChange => ({ knightId, status: 'live', spec: { cpu, ramGb } });
  const ended = (knights: KnightAtTierChange[], from: 'free' | 'pro' | 'enterprise', to: 'free' | 'pro' | 'enterprise') =>
    knightsEndedByTierChange(knights, from, to);

  it('ends a knight larger than the new tier allows even when the count fits, naming the size limit', () => {
    expect(ended([live('small'), live('big', 8, 32)], 'pro', 'free')).toEqual([
      { knightId: 'big', reason: 'the free tier allows knights of at most 2 CPUs and 8 GB RAM' },
    ]);
    expect(ended([live('huge', 16, 64)], 'enterprise', 'pro').map((k) => k.knightId)).toEqual(['huge']);
  });
  it('counts the oversized ones as gone before ending the newest beyond knights-at-once', () => {
    // newest first: n3, big, n1 — big goes for its size, then n3 for the count; n1 (the oldest) stays
    expect(ended([live('n3'), live('big', 8, 32), live('n1')], 'pro', 'free').map((k) => k.knightId)).toEqual(['big', 'n3']);
  });
  it('ends failed knights, leaves terminating ones alone, and keeps the knight that works', () => {
    const knights: KnightAtTierChange[] = [live('w'), { knightId: 'f', status: 'failed', spec: { cpu: 2, ramGb: 4 } }, { knightId: 't', status: 'terminating', spec: { cpu: 8, ramGb: 32 } }];
    expect(ended(knights, 'pro', 'free').map((k) => k.knightId)).toEqual(['f']);
  });
  it('an upgrade or the same tier ends nothing', () => {
    expect(ended([live('a'), { knightId: 'f', status: 'failed', spec: null }], 'free', 'pro')).toEqual([]);
    expect(ended([live('a'), live('b')], 'pro', 'pro')).toEqual([]);
  });
});
