import { describe, expect, it } from 'vitest';
import type { KnightEvent } from '../../domain/knight/index.ts';
import { DEFAULT_POLICY, knightJob } from '../../domain/provisioning/index.ts';
import type { JobInput, Observation } from '../../domain/provisioning/index.ts';
import { asKnightId, asTenantId } from '../../domain/shared/ids.ts';
import { epochMs } from '../../domain/shared/time.ts';
import type { TenantFacts } from '../../domain/tenant/index.ts';
import { processSpec } from '../support/process-spec.ts';

const T0 = '2026-03-01T10:00:00.000Z';
const t0 = epochMs(T0);
const policy = { ...DEFAULT_POLICY, knightProvisionMs: 600_000, knightTaskMs: 1_800_000, pollMs: 1_000, retryBaseMs: 1_000, retryMaxMs: 60_000 };
const given = processSpec(knightJob, policy).given;
const active: TenantFacts = { status: 'active', tier: 'pro' };
const name = 'ocs-k-acme.k-1';

const requested: KnightEvent = {
  type: 'KnightRequested',
  data: { knightId: asKnightId('k-1'), tenantId: asTenantId('acme'), task: "Build 'the' site; then rm -rf /", spec: { cpu: 4, ramGb: 8 }, at: T0 },
};
const provisioning: KnightEvent = { type: 'KnightProvisioningStarted', data: { vmName: name, at: T0 } };
const provisioned: KnightEvent = { type: 'KnightProvisioned', data: { vmId: 'vm-1', url: 'https://www.orgo.ai/desktops/i-1', at: T0 } };
const taskStarted: KnightEvent = { type: 'KnightTaskStarted', data: { taskId: 'task-1', description: requested.data.task, at: T0 } };
const prepared: KnightEvent = { type: 'KnightTaskProgressed', data: { taskId: 'task-1', percent: 30, note: 'OpenClaw is running on the knight', at: T0 } };
const completed: KnightEvent = { type: 'KnightTaskCompleted', data: { taskId: 'task-1', result: 'ok', screenshotUrl: null, at: T0 } };
const failed: KnightEvent = { type: 'KnightFailed', data: { stage: 'provisioning', reason: 'x', at: T0 } };
const terminating: KnightEvent = { type: 'KnightTerminationRequested', data: { reason: 'client', at: T0 } };
const terminated: KnightEvent = { type: 'KnightTerminated', data: { at: T0 } };

const at = (ms: number, observation: Observation = { type: 'Woken' }, tenant = active): JobInput => ({ observation, now: t0 + ms, tenant });
const woken = at(1_000);
const seen = (status: 'creating' | 'starting' | 'running' | 'stopped' | 'error' | 'deleting' | 'unknown', ms = 1_000) =>
  at(ms, { type: 'ComputerSeen', vm: { id: 'vm-1', status, url: 'https://www.orgo.ai/desktops/i-1' } });
const STATUS = { transient: 503, unauthorized: 403, gone: 404, fatal: 422 } as const;
const failedCall = (failure: 'transient' | 'unauthorized' | 'gone' | 'fatal', attempt = 0, ms = 1_000, during: 'provide' | 'task' | 'delete' = 'provide') =>
  at(ms, { type: 'ProviderFailed', during, failure, message: 'Orgo answered 503', status: STATUS[failure], attempt });

describe('knight provisioning: getting a computer', () => {
  it('does nothing for a knight that does not exist or is terminated', () => {
    given([]).when(woken).then({ type: 'Done' });
    given([requested, terminating, terminated]).when(woken).then({ type: 'Done' });
  });
  it('names the computer after the knight before creating anything', () =>
    given([requested]).when(woken).then({ type: 'Record', command: { type: 'StartKnightProvisioning', vmName: name } }));
  it('provides a computer of the requested size, under that name', () =>
    given([requested, provisioning]).when(woken).then({ type: 'ProvideComputer', name, size: { cpu: 4, ramGb: 8 }, purpose: 'knight' }));
  it('waits while the computer boots, and records it once running', () => {
    given([requested, provisioning]).when(seen('creating')).then({ type: 'Wait', until: t0 + 2_000, why: 'computer creating' });
    given([requested, provisioning]).when(seen('running')).then({
      type: 'Record',
      command: { type: 'MarkKnightProvisioned', vmId: 'vm-1', url: 'https://www.orgo.ai/desktops/i-1' },
    });
  });
  it('waits on a computer in a state the provider adapter does not know: neither running nor gone', () =>
    given([requested, provisioning]).when(seen('unknown')).then({ type: 'Wait', until: t0 + 2_000, why: 'computer in a state the provider adapter does not know' }));
  it('starts a stopped computer', () => given([requested, provisioning]).when(seen('stopped')).then({ type: 'StartComputer', vmId: 'vm-1' }));
  it('fails with the stage when the computer ends in error', () =>
    given([requested, provisioning]).when(seen('error')).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'the computer ended in error while starting' },
    }));
  it('counts the deadline from the recorded event, so a restart keeps it', () => {
    given([requested, provisioning]).when(at(599_999)).then({ type: 'ProvideComputer', name, size: { cpu: 4, ramGb: 8 }, purpose: 'knight' });
    given([requested, provisioning]).when(at(600_000)).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'the computer was not running within 600 s' },
    });
    given([requested, provisioning]).when(seen('starting', 599_500)).then({ type: 'Wait', until: t0 + 600_000, why: 'computer starting' });
  });
});

describe('knight provisioning: failures of Orgo', () => {
  it('retries transient failures with growing waits, capped', () => {
    given([requested, provisioning]).when(failedCall('transient', 0)).then({ type: 'Wait', until: t0 + 2_000, why: 'retry after: Orgo answered 503' });
    given([requested, provisioning]).when(failedCall('transient', 3)).then({ type: 'Wait', until: t0 + 9_000, why: 'retry after: Orgo answered 503' });
    given([requested, provisioning]).when(failedCall('transient', 30)).then({ type: 'Wait', until: t0 + 61_000, why: 'retry after: Orgo answered 503' });
  });
  it('gives up and fails when the next retry would pass the deadline', () =>
    given([requested, provisioning]).when(failedCall('transient', 5, 590_000)).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'provider_error: the VM provider did not succeed after 6 attempts (HTTP 503)' },
    }));
  it('fails at once when Orgo refuses our credentials, no retries; the reason is stable text, never Orgo’s words or our configuration', () => {
    const refused = at(1_000, {
      type: 'ProviderFailed',
      during: 'provide',
      failure: 'unauthorized',
      message: 'Orgo answered 403 to POST /computers: key of ops@platform.example is scoped elsewhere, see https://www.orgo.ai/settings (check ORGO_WORKSPACE_ID)',
      status: 403,
      attempt: 0,
    });
    given([requested, provisioning]).when(refused).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: "provider_error: the VM provider refused the platform's credentials (HTTP 403); an operator must act" },
    });
    given([requested, provisioning]).when(failedCall('fatal')).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'provider_error: the VM provider refused the request (HTTP 422)' },
    });
    given([requested, provisioning]).when(at(590_000, { type: 'ProviderFailed', during: 'provide', failure: 'transient', message: 'Orgo did not answer', status: null, attempt: 5 })).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'provider_error: the VM provider did not succeed after 6 attempts (no answer)' },
    });
  });
  it('looks for the computer again when it vanished while provisioning, but fails a working knight whose computer vanished', () => {
    // with the backoff of any failure: a 404 that keeps coming (a workspace deleted) must not spin the job
    given([requested, provisioning]).when(failedCall('gone')).then({ type: 'Wait', until: t0 + 2_000, why: 'the computer is gone: look for it again' });
    given([requested, provisioning]).when(failedCall('gone', 3)).then({ type: 'Wait', until: t0 + 9_000, why: 'the computer is gone: look for it again' });
    given([requested, provisioning]).when(failedCall('gone', 5, 590_000)).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'provisioning', reason: 'provider_error: the VM provider did not succeed after 6 attempts (HTTP 404)' },
    });
    given([requested, provisioning, provisioned, taskStarted, prepared]).when(failedCall('gone', 0, 1_000, 'task')).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'vm_lost', reason: 'the knight’s computer no longer exists' },
    });
  });
});

describe('knight provisioning: the task', () => {
  const ready = [requested, provisioning, provisioned];
  it('starts the task it was deployed with', () =>
    given(ready).when(woken).then({ type: 'Record', command: { type: 'StartKnightTask', taskId: 'task-1', description: requested.data.task, tenant: active } }));
  it('installs OpenClaw first, then reports 30 %', () => {
    given([...ready, taskStarted]).when(woken).then({ type: 'Prepare', vmId: 'vm-1', owner: name, purpose: 'knight', tenantId: 'acme' });
    given([...ready, taskStarted]).when(at(1_000, { type: 'Prepared', vmId: 'vm-1', bridgeTokenHash: null })).then({
      type: 'Record',
      command: { type: 'ReportKnightProgress', taskId: 'task-1', percent: 30, note: 'OpenClaw is running on the knight' },
    });
  });
  it('fails at the bootstrap stage when an install step exits non-zero', () =>
    given([...ready, taskStarted]).when(at(1_000, { type: 'PrepareFailed', step: 'install OpenClaw', exitCode: 127, output: 'npm: not found\n' })).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'bootstrap', reason: 'install OpenClaw exited with 127: npm: not found' },
    }));
  it('runs the task as given (quoting is the runner’s job), and completes with its output and screenshot', () => {
    given([...ready, taskStarted, prepared]).when(woken).then({ type: 'RunTask', vmId: 'vm-1', taskId: 'task-1', task: requested.data.task });
    given([...ready, taskStarted, prepared]).when(at(1_000, { type: 'TaskFinished', exitCode: 0, output: 'built', screenshotUrl: 'https://s.test/1.png' })).then({
      type: 'Record',
      command: { type: 'CompleteKnightTask', taskId: 'task-1', result: 'built', screenshotUrl: 'https://s.test/1.png' },
    });
  });
  it('fails a task that exits non-zero, keeping the end of a long output', () => {
    const action = processSpec(knightJob, policy)
      .given([...ready, taskStarted, prepared])
      .when(at(1_000, { type: 'TaskFinished', exitCode: 2, output: `${'x'.repeat(1_000)}the real error`, screenshotUrl: null }))
      .action();
    expect(action).toMatchObject({ type: 'Record', command: { type: 'FailKnight', stage: 'task', reason: expect.stringMatching(/^the task exited with 2: …x+the real error$/) } });
  });
  it('fails a task still running past its deadline', () =>
    given([...ready, taskStarted, prepared]).when(at(1_800_000)).then({
      type: 'Record',
      command: { type: 'FailKnight', stage: 'task', reason: 'the task did not finish within 1800 s' },
    }));
  it('idles once the task is done', () => given([...ready, taskStarted, prepared, completed]).when(woken).then({ type: 'Done' }));
});

describe('knight provisioning: failure, termination and the tenant', () => {
  it('deletes a failed knight’s computer, then is done', () => {
    given([requested, provisioning, failed]).when(woken).then({ type: 'DeleteComputer', name, vmId: null });
    given([requested, provisioning, failed]).when(at(1_000, { type: 'ComputerDeleted' })).then({ type: 'Done' });
    given([requested, failed]).when(woken).then({ type: 'Done' });
  });
  it('deletes the computer, then records the termination', () => {
    given([...[requested, provisioning, provisioned], terminating]).when(woken).then({ type: 'DeleteComputer', name, vmId: 'vm-1' });
    given([requested, provisioning, provisioned, terminating]).when(at(1_000, { type: 'ComputerDeleted' })).then({
      type: 'Record',
      command: { type: 'MarkKnightTerminated' },
    });
    given([requested, terminating]).when(woken).then({ type: 'Record', command: { type: 'MarkKnightTerminated' } });
  });
  it('a computer already gone ends the deletion: the knight is terminated, a failed one done', () => {
    given([requested, provisioning, terminating]).when(failedCall('gone', 4, 1_000, 'delete')).then({ type: 'Record', command: { type: 'MarkKnightTerminated' } });
    given([requested, provisioning, failed]).when(failedCall('gone', 4, 1_000, 'delete')).then({ type: 'Done' });
  });
  it('keeps trying to delete, slowly when Orgo refuses our credentials', () => {
    given([requested, provisioning, terminating]).when(failedCall('unauthorized', 0, 1_000, 'delete')).then({
      type: 'Wait',
      until: t0 + 1_000 + policy.refusedRetryMs,
      why: 'deletion refused: Orgo answered 503',
    });
    given([requested, provisioning, terminating]).when(failedCall('transient', 2, 1_000, 'delete')).then({ type: 'Wait', until: t0 + 5_000, why: 'deletion failed: Orgo answered 503' });
  });
  it('terminates the knights of a suspended or erased tenant', () => {
    given([requested, provisioning]).when(at(1_000, { type: 'Woken' }, { status: 'suspended', tier: 'pro' })).then({
      type: 'Record',
      command: { type: 'RequestKnightTermination', reason: 'the tenant is suspended' },
    });
    given([requested, provisioning, failed]).when(at(1_000, { type: 'Woken' }, { status: 'erased', tier: 'free' })).then({
      type: 'Record',
      command: { type: 'RequestKnightTermination', reason: 'the tenant is erased' },
    });
    given([requested, provisioning, terminating]).when(at(1_000, { type: 'Woken' }, { status: 'erased', tier: 'free' })).then({ type: 'DeleteComputer', name, vmId: null });
  });
});
