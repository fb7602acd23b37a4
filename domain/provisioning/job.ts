import { unreachable } from '../shared/decider.ts';
import type { VmFailure, VmSize, VmStatus } from '../ports/vm-provider.ts';
import type { TenantFacts } from '../tenant/facts.ts';

/**
 * What the provisioning process manager works with. A job is one knight or one tenant's agent VM;
 * its state is a fold of that stream's events, and `decide` says the single next thing to do,
 * given what just happened (an input). The runner (adapters/provisioning) carries the action out
 * and feeds its outcome back as the next input, until the job waits or is done. Nothing here
 * talks to the world, reads a clock or makes an id.
 */
export interface ProvisioningPolicy {
  /** Computer names start with `<namePrefix>-` (see names.ts). */
  readonly namePrefix: string;
  /** A knight's computer must be running within this long of KnightProvisioningStarted. */
  readonly knightProvisionMs: number;
  /** A knight's task (agent install included) must finish within this long of KnightTaskStarted. */
  readonly knightTaskMs: number;
  /** An agent VM must be running and bootstrapped within this long of AgentVmRequested. */
  readonly agentVmMs: number;
  /** Between looks at a computer that is still booting. */
  readonly pollMs: number;
  /** Transient failures wait retryBaseMs · 2^attempt, at most retryMaxMs. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** A deletion refused for our credentials is tried again this rarely (an operator must act first). */
  readonly refusedRetryMs: number;
  readonly agentVmSize: VmSize;
}

export const DEFAULT_POLICY: ProvisioningPolicy = Object.freeze({
  namePrefix: 'ocs',
  knightProvisionMs: 10 * 60_000,
  knightTaskMs: 30 * 60_000,
  agentVmMs: 15 * 60_000,
  pollMs: 500,
  retryBaseMs: 1_000,
  retryMaxMs: 60_000,
  refusedRetryMs: 5 * 60_000,
  agentVmSize: Object.freeze({ cpu: 2, ramGb: 4 }),
});

/** The effect whose outcome an observation reports. */
export type Effect = 'provide' | 'start' | 'prepare' | 'task' | 'delete';

export interface SeenVm {
  readonly id: string;
  readonly status: VmStatus;
  readonly url: string | null;
}

export type Observation =
  /** A new event on the stream, a timer that came due, or a restart: look at the state afresh. */
  | { readonly type: 'Woken' }
  | { readonly type: 'ComputerSeen'; readonly vm: SeenVm }
  /**
   * `message`: the provider's own words, for the operator's log and the job's row only (it may carry hints
   * about our configuration or account); `status`: the HTTP status it answered, when it answered.
   */
  | {
      readonly type: 'ProviderFailed';
      readonly during: Effect;
      readonly failure: VmFailure;
      readonly message: string;
      readonly status?: number | null | undefined;
      readonly attempt: number;
    }
  /** The computer has OpenClaw (and, for an agent VM, the bridge with its token's hash). */
  | { readonly type: 'Prepared'; readonly vmId: string; readonly bridgeTokenHash: string | null }
  | { readonly type: 'PrepareFailed'; readonly step: string; readonly exitCode: number; readonly output: string }
  | { readonly type: 'TaskFinished'; readonly exitCode: number; readonly output: string; readonly screenshotUrl: string | null }
  | { readonly type: 'ComputerDeleted' };

export interface JobInput {
  readonly observation: Observation;
  /** Epoch milliseconds, from the runner's clock. */
  readonly now: number;
  readonly tenant: TenantFacts;
}

/** A domain command before the runner stamps its time. */
export type Unstamped<C> = C extends unknown ? Omit<C, 'at'> : never;

export type JobAction<Command> =
  | { readonly type: 'Record'; readonly command: Unstamped<Command> }
  /** Find the computer by `name` (or the warm one claimed for it), else create it. */
  | { readonly type: 'ProvideComputer'; readonly name: string; readonly size: VmSize; readonly purpose: 'knight' | 'agent' }
  | { readonly type: 'StartComputer'; readonly vmId: string }
  /** Install and start what the computer runs (OpenClaw; for an agent VM also the bridge, handed a fresh token). */
  | { readonly type: 'Prepare'; readonly vmId: string; readonly owner: string; readonly purpose: 'knight' | 'agent'; /** Whose computer it is (the agent bridge dials in as this tenant). */ readonly tenantId: string }
  | { readonly type: 'RunTask'; readonly vmId: string; readonly taskId: string; readonly task: string }
  /** Delete the computer named so (and any warm one claimed for that name); gone already counts as deleted. */
  | { readonly type: 'DeleteComputer'; readonly name: string; readonly vmId: string | null }
  | { readonly type: 'Wait'; readonly until: number; readonly why: string }
  | { readonly type: 'Done' };

/** A process manager: like a Decider, but it decides actions rather than events. */
export interface ProcessManager<Event, State, Command> {
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
  readonly decide: (input: JobInput, state: State, policy: ProvisioningPolicy) => JobAction<Command>;
}

export const backoffMs = (policy: ProvisioningPolicy, attempt: number): number =>
  Math.min(policy.retryBaseMs * 2 ** Math.min(attempt, 20), policy.retryMaxMs);

/** Text bounded for an event field, keeping the end (where an error usually says what went wrong). */
export const clip = (text: string, max: number): string => (text.length <= max ? text : `…${text.slice(text.length - max + 1)}`);

export const seconds = (ms: number): string => `${Math.round(ms / 1_000)} s`;

/**
 * What the tenant is told when the VM provider failed (a failure reason the API shows): stable text with the
 * HTTP status at most, never the provider's own words, which may name our account, configuration or
 * operator hints. The detail goes to the operator's log (adapters/provisioning/step.ts).
 * `gaveUp`: the retries ran out before the deadline.
 */
export const providerReason = (o: Extract<Observation, { type: 'ProviderFailed' }>, gaveUp = false): string => {
  const answer = typeof o.status === 'number' ? `HTTP ${o.status}` : 'no answer';
  if (gaveUp) return `provider_error: the VM provider did not succeed after ${o.attempt + 1} attempts (${answer})`;
  switch (o.failure) {
    case 'unauthorized':
      return `provider_error: the VM provider refused the platform's credentials (${answer}); an operator must act`;
    case 'fatal':
      return `provider_error: the VM provider refused the request (${answer})`;
    default:
      return `provider_error: the VM provider failed (${answer})`;
  }
};

export const waitUntil = <Command>(until: number, why: string): JobAction<Command> => ({ type: 'Wait', until, why });

/**
 * A job's next step for a computer it found while provisioning: `whenRunning` once it runs; start it
 * when stopped; fail when it ended in error; else (an unknown state too) poll again at `pollAt`.
 */
export const stepForComputer = <Command>(
  vm: SeenVm,
  whenRunning: JobAction<Command>,
  fail: (reason: string) => JobAction<Command>,
  pollAt: number,
): JobAction<Command> => {
  switch (vm.status) {
    case 'running':
      return whenRunning;
    case 'stopped':
    case 'suspended':
      return { type: 'StartComputer', vmId: vm.id };
    case 'error':
      return fail('the computer ended in error while starting');
    case 'creating':
    case 'starting':
    case 'restarting':
    case 'stopping':
    case 'deleting':
      return waitUntil(pollAt, `computer ${vm.status}`);
    case 'unknown':
      // a state the provider added since: neither running nor gone, so look again (the deadline still runs)
      return waitUntil(pollAt, 'computer in a state the provider adapter does not know');
    default:
      return unreachable(vm.status);
  }
};
