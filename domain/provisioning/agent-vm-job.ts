import { unreachable } from '../shared/decider.ts';
import { epochMs } from '../shared/time.ts';
import type { AgentVmFailureStage, TenantCommand, TenantEvent } from '../tenant/index.ts';
import { evolveTenant, initialTenantState } from '../tenant/state.ts';
import type { TenantState } from '../tenant/state.ts';
import { backoffMs, clip, providerReason, seconds, stepForComputer, waitUntil } from './job.ts';
import type { JobAction, JobInput, Observation, ProcessManager, ProvisioningPolicy } from './job.ts';
import { agentComputerName } from './names.ts';

/**
 * A tenant's agent VM: TenantCreated → AgentVmRequested → computer running → OpenClaw and the
 * bridge installed and started, the bridge handed its token → AgentVmReady. A failure is recorded
 * (AgentVmFailed, with the stage and why), then its computer deleted; a new request retries.
 * An erased tenant's agent VM is deleted.
 */
export interface AgentVmJobState {
  readonly tenant: TenantState;
  /** The latest request, kept past erasure so its computer can still be deleted. */
  readonly request: { readonly requestId: string; readonly vmId: string | null; readonly since: string } | null;
}

type Action = JobAction<TenantCommand>;

/** The request the saga makes for a new tenant; retries come with ids of their own. */
export const FIRST_AGENT_REQUEST_ID = 'agent-1';

const evolve = (state: AgentVmJobState, event: TenantEvent): AgentVmJobState => {
  const tenant = evolveTenant(state.tenant, event);
  switch (event.type) {
    case 'AgentVmRequested':
      return { tenant, request: { requestId: event.data.requestId, vmId: null, since: event.data.at } };
    case 'AgentVmReady':
      return { tenant, request: state.request && { ...state.request, vmId: event.data.vmId } };
    default:
      return { ...state, tenant };
  }
};

const wait = (until: number, why: string): Action => waitUntil(until, why);

const requested = (state: AgentVmJobState, tenantId: string, requestId: string, input: JobInput, policy: ProvisioningPolicy): Action => {
  const fail = (stage: AgentVmFailureStage, reason: string): Action => ({
    type: 'Record',
    command: { type: 'FailAgentVm', requestId, stage, reason: clip(reason, 500) },
  });
  const name = agentComputerName(policy.namePrefix, tenantId, requestId);
  const deadline = epochMs(state.request?.since ?? '') + policy.agentVmMs;
  const o: Observation = input.observation;
  switch (o.type) {
    case 'Prepared':
      return o.bridgeTokenHash === null
        ? fail('bootstrap', 'the bridge was not handed a token')
        : { type: 'Record', command: { type: 'MarkAgentVmReady', requestId, vmId: o.vmId, bridgeTokenHash: o.bridgeTokenHash } };
    case 'PrepareFailed':
      return fail('bootstrap', `${o.step} exited with ${o.exitCode}${o.output ? `: ${clip(o.output.trim(), 300)}` : ''}`);
    case 'ProviderFailed': {
      const stage = o.during === 'prepare' ? 'bootstrap' : 'provisioning';
      if (o.failure === 'unauthorized' || o.failure === 'fatal') return fail(stage, providerReason(o));
      const retryAt = input.now + backoffMs(policy, o.attempt);
      // looked for again, with the backoff of any failure: a 404 that keeps coming must not spin the job
      if (retryAt >= deadline) return fail(stage, providerReason(o, true));
      return wait(retryAt, o.failure === 'gone' ? 'the computer is gone: look for it again' : `retry after: ${o.message}`);
    }
    case 'ComputerSeen': {
      if (input.now >= deadline) break;
      const { vm } = o;
      return stepForComputer<TenantCommand>(vm, { type: 'Prepare', vmId: vm.id, owner: name, purpose: 'agent', tenantId }, (reason) => fail('provisioning', reason), Math.min(input.now + policy.pollMs, deadline));
    }
    default:
      break;
  }
  if (input.now >= deadline) return fail('provisioning', `the agent VM was not ready within ${seconds(policy.agentVmMs)}`);
  return { type: 'ProvideComputer', name, size: policy.agentVmSize, purpose: 'agent' };
};

/** Deleting a computer: done once it is gone; refused or failed deletions are tried again later. */
const deleting = (tenantId: string, request: NonNullable<AgentVmJobState['request']>, input: JobInput, policy: ProvisioningPolicy): Action => {
  const o = input.observation;
  // a computer already gone is the end a deletion wants
  if (o.type === 'ComputerDeleted' || (o.type === 'ProviderFailed' && o.failure === 'gone')) return { type: 'Done' };
  if (o.type === 'ProviderFailed')
    return o.failure === 'unauthorized' || o.failure === 'fatal'
      ? wait(input.now + policy.refusedRetryMs, `deletion refused: ${o.message}`)
      : wait(input.now + backoffMs(policy, o.attempt), `deletion failed: ${o.message}`);
  return { type: 'DeleteComputer', name: agentComputerName(policy.namePrefix, tenantId, request.requestId), vmId: request.vmId };
};

const decide = (input: JobInput, state: AgentVmJobState, policy: ProvisioningPolicy): Action => {
  const { tenant, request } = state;
  switch (tenant.status) {
    case 'none':
      return { type: 'Done' };
    case 'erased':
      return request ? deleting(tenant.tenantId, request, input, policy) : { type: 'Done' };
    case 'active':
    case 'suspended': {
      const vm = tenant.agentVm;
      switch (vm.status) {
        case 'none':
          return tenant.status === 'active'
            ? { type: 'Record', command: { type: 'RequestAgentVm', requestId: FIRST_AGENT_REQUEST_ID } }
            : { type: 'Done' };
        case 'requested':
          return requested(state, tenant.tenantId, vm.requestId, input, policy);
        case 'ready':
          return { type: 'Done' };
        case 'failed':
          return request ? deleting(tenant.tenantId, request, input, policy) : { type: 'Done' };
        default:
          return unreachable(vm);
      }
    }
    default:
      return unreachable(tenant);
  }
};

export const agentVmJob: ProcessManager<TenantEvent, AgentVmJobState, TenantCommand> = {
  initialState: () => ({ tenant: initialTenantState(), request: null }),
  evolve,
  decide,
};
