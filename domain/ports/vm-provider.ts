/**
 * The VmProvider port: the virtual computers knights and agent VMs run on (Orgo, or its
 * simulator). Types only; the Orgo client in adapters/orgo implements it. Failures are AppErrors;
 * `classify` tells the provisioning saga how to treat one.
 */
/** `unknown`: a state the provider added after its adapter was written; neither running nor gone. */
export const VM_STATUSES = ['creating', 'starting', 'running', 'stopping', 'stopped', 'restarting', 'suspended', 'deleting', 'error', 'unknown'] as const;
export type VmStatus = (typeof VM_STATUSES)[number];

export interface Vm {
  readonly id: string;
  readonly name: string;
  readonly status: VmStatus;
  readonly url: string | null;
  /** ISO time of creation when the provider says. */
  readonly createdAt: string | null;
}

export interface VmSize {
  readonly cpu: number;
  readonly ramGb: number;
}

export interface VmCommandResult {
  readonly output: string;
  readonly exitCode: number;
}

export type VmScreenshot = { readonly kind: 'data'; readonly dataUrl: string } | { readonly kind: 'url'; readonly url: string };

/**
 * - `unauthorized`: the provider refused our credentials; only an operator can fix it, so no retrying
 * - `transient`: busy, booting, unreachable, timed out: try again after a while
 * - `gone`: the computer does not exist
 * - `fatal`: a request the provider will never accept
 */
export type VmFailure = 'unauthorized' | 'transient' | 'gone' | 'fatal';

export interface VmProvider {
  /** Creates and starts a computer; names are unique, so look the name up first after a lost answer. */
  create(name: string, size: VmSize): Promise<Vm>;
  get(id: string): Promise<Vm>;
  /** Undefined when no computer has that name, also when the workspace itself no longer exists. */
  findByName(name: string): Promise<Vm | undefined>;
  /** Every computer of the platform's workspace. */
  list(): Promise<Vm[]>;
  /** Resolves when the computer is gone, also when it was gone already. */
  remove(id: string): Promise<void>;
  start(id: string): Promise<void>;
  bash(id: string, command: string, timeoutSeconds?: number): Promise<VmCommandResult>;
  screenshot(id: string): Promise<VmScreenshot>;
  classify(error: unknown): VmFailure;
}
