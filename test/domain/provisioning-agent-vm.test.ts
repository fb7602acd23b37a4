import { describe, expect, it } from 'vitest';
import { agentVmJob, DEFAULT_POLICY } from '../../domain/provisioning/index.ts';
import type { JobInput, Observation } from '../../domain/provisioning/index.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { epochMs } from '../../domain/shared/time.ts';
import type { TenantEvent, TenantFacts } from '../../domain/tenant/index.ts';
import { processSpec } from '../support/process-spec.ts';

const T0 = '2026-03-01T10:00:00.000Z';
const t0 = epochMs(T0);
const policy = { ...DEFAULT_POLICY, agentVmMs: 900_000 };
const given = processSpec(agentVmJob, policy).given;
const active: TenantFacts = { status: 'active', tier: 'pro' };
const HASH = 'sha256:8d969eef6ecad3c29a3a629280e686cf';
const name = 'ocs-a-acme.agent-1';

const created: TenantEvent = { type: 'TenantCreated', data: { tenantId: asTenantId('acme'), name: 'Acme', email: null, tier: 'pro', at: T0 } };
const vmRequested: TenantEvent = { type: 'AgentVmRequested', data: { requestId: 'agent-1', at: T0 } };
const vmReady: TenantEvent = { type: 'AgentVmReady', data: { requestId: 'agent-1', vmId: 'vm-7', bridgeTokenHash: HASH, at: T0 } };
const vmFailed: TenantEvent = { type: 'AgentVmFailed', data: { requestId: 'agent-1', stage: 'bootstrap', reason: 'npm failed', at: T0 } };
const suspended: TenantEvent = { type: 'TenantSuspended', data: { reason: 'unpaid', at: T0 } };
const erased: TenantEvent = { type: 'TenantErased', data: { at: T0 } };

const at = (ms: number, observation: Observation = { type: 'Woken' }, tenant = active): JobInput => ({ observation, now: t0 + ms, tenant });

describe('agent VM provisioning', () => {
  it('requests the agent VM of a new tenant, with a request id a repeat recognises', () =>
    given([created]).when(at(0)).then({ type: 'Record', command: { type: 'RequestAgentVm', requestId: 'agent-1' } }));
  it('does not request one for a suspended tenant', () => given([created, suspended]).when(at(0)).then({ type: 'Done' }));
  it('provides a computer named after the request, of the agent VM size', () =>
    given([created, vmRequested]).when(at(10)).then({ type: 'ProvideComputer', name, size: { cpu: 2, ramGb: 4 }, purpose: 'agent' }));
  it('bootstraps a running computer, then records it ready with the hash of the bridge token', () => {
    given([created, vmRequested]).when(at(10, { type: 'ComputerSeen', vm: { id: 'vm-7', status: 'running', url: null } })).then({
      type: 'Prepare',
      vmId: 'vm-7',
      owner: name,
      purpose: 'agent',
      tenantId: 'acme',
    });
    given([created, vmRequested]).when(at(10, { type: 'Prepared', vmId: 'vm-7', bridgeTokenHash: HASH })).then({
      type: 'Record',
      command: { type: 'MarkAgentVmReady', requestId: 'agent-1', vmId: 'vm-7', bridgeTokenHash: HASH },
    });
  });
  it('fails at the bootstrap stage when a step exits non-zero, saying which and why', () =>
    given([created, vmRequested]).when(at(10, { type: 'PrepareFailed', step: 'install the agent bridge', exitCode: 1, output: 'E404 not found' })).then({
      type: 'Record',
      command: { type: 'FailAgentVm', requestId: 'agent-1', stage: 'bootstrap', reason: 'install the agent bridge exited with 1: E404 not found' },
    }));
  it('fails a computer that ends in error, and one not ready by the deadline', () => {
    given([created, vmRequested]).when(at(10, { type: 'ComputerSeen', vm: { id: 'vm-7', status: 'error', url: null } })).then({
      type: 'Record',
      command: { type: 'FailAgentVm', requestId: 'agent-1', stage: 'provisioning', reason: 'the computer ended in error while starting' },
    });
    given([created, vmRequested]).when(at(900_000)).then({
      type: 'Record',
      command: { type: 'FailAgentVm', requestId: 'agent-1', stage: 'provisioning', reason: 'the agent VM was not ready within 900 s' },
    });
  });
  it('fails at once when Orgo refuses our credentials, and retries other failures', () => {
    const refused = processSpec(agentVmJob, policy)
      .given([created, vmRequested])
      .when(at(10, { type: 'ProviderFailed', during: 'provide', failure: 'unauthorized', message: 'Orgo answered 401 to GET /workspaces/{id}: Invalid key (check ORGO_API_KEY)', status: 401, attempt: 0 }))
      .action();
    // stable text for the tenant: Orgo's words and the operator's hints stay in the operator's log
    expect(refused).toEqual({
      type: 'Record',
      command: { type: 'FailAgentVm', requestId: 'agent-1', stage: 'provisioning', reason: "provider_error: the VM provider refused the platform's credentials (HTTP 401); an operator must act" },
    });
    given([created, vmRequested]).when(at(10, { type: 'ProviderFailed', during: 'prepare', failure: 'transient', message: 'busy', attempt: 1 })).then({
      type: 'Wait',
      until: t0 + 10 + 2_000,
      why: 'retry after: busy',
    });
  });
  it('looks for a computer that is gone again with backoff, not at once (a deleted workspace answers 404 to everything)', () => {
    given([created, vmRequested]).when(at(10, { type: 'ProviderFailed', during: 'provide', failure: 'gone', message: 'Orgo answered 404', attempt: 2 })).then({
      type: 'Wait',
      until: t0 + 10 + 4_000,
      why: 'the computer is gone: look for it again',
    });
  });
  it('a computer already gone ends the deletion of a failed request’s computer', () =>
    given([created, vmRequested, vmFailed]).when(at(10, { type: 'ProviderFailed', during: 'delete', failure: 'gone', message: 'Orgo answered 404', attempt: 3 })).then({ type: 'Done' }));
  it('is done once ready', () => given([created, vmRequested, vmReady]).when(at(10)).then({ type: 'Done' }));
  it('deletes a failed request’s computer; a retry starts a new one under a new name', () => {
    given([created, vmRequested, vmFailed]).when(at(10)).then({ type: 'DeleteComputer', name, vmId: null });
    given([created, vmRequested, vmFailed]).when(at(10, { type: 'ComputerDeleted' })).then({ type: 'Done' });
    const retry: TenantEvent = { type: 'AgentVmRequested', data: { requestId: 'r-2', at: T0 } };
    given([created, vmRequested, vmFailed, retry]).when(at(10)).then({ type: 'ProvideComputer', name: 'ocs-a-acme.r-2', size: { cpu: 2, ramGb: 4 }, purpose: 'agent' });
  });
  it('deletes an erased tenant’s agent VM', () => {
    given([created, vmRequested, vmReady, erased]).when(at(10, { type: 'Woken' }, { status: 'erased', tier: 'free' })).then({ type: 'DeleteComputer', name, vmId: 'vm-7' });
    given([created, erased]).when(at(10, { type: 'Woken' }, { status: 'erased', tier: 'free' })).then({ type: 'Done' });
  });
});
