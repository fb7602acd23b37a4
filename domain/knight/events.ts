import type { DomainEvent } from '../shared/decider.ts';
import type { KnightId, TenantId } from '../shared/ids.ts';

export const KNIGHT_CPUS = [1, 2, 4, 8, 16] as const;
export const KNIGHT_RAM_GB = [4, 8, 16, 32, 64] as const;

export interface KnightSpec {
  readonly cpu: (typeof KNIGHT_CPUS)[number];
  readonly ramGb: (typeof KNIGHT_RAM_GB)[number];
}

/**
 * Where a knight failed: getting its computer running, installing its agent, running its task, or
 * its computer vanished. `unknown` is what a failure recorded before stages existed reads as.
 */
export const KNIGHT_FAILURE_STAGES = ['provisioning', 'bootstrap', 'task', 'vm_lost', 'unknown'] as const;
export type KnightFailureStage = (typeof KNIGHT_FAILURE_STAGES)[number];

type Event<Type extends string, Data> = DomainEvent<Type, Readonly<Data> & { readonly at: string }>;

export type KnightRequested = Event<'KnightRequested', { knightId: KnightId; tenantId: TenantId; task: string; spec: KnightSpec }>;
export type KnightProvisioningStarted = Event<'KnightProvisioningStarted', { vmName: string }>;
export type KnightProvisioned = Event<'KnightProvisioned', { vmId: string; url: string | null }>;
export type KnightTaskStarted = Event<'KnightTaskStarted', { taskId: string; description: string }>;
/** `percent` is an integer 0–100 that never goes backwards within a task. */
export type KnightTaskProgressed = Event<'KnightTaskProgressed', { taskId: string; percent: number; note: string }>;
/** `screenshotUrl`: an https link to the screen at completion when the provider gave one, else null. */
export type KnightTaskCompleted = Event<'KnightTaskCompleted', { taskId: string; result: string; screenshotUrl: string | null }>;
export type KnightFailed = Event<'KnightFailed', { stage: KnightFailureStage; reason: string }>;
export type KnightTerminationRequested = Event<'KnightTerminationRequested', { reason: string }>;
export type KnightTerminated = Event<'KnightTerminated', Record<never, never>>;

export type KnightEvent =
  | KnightRequested
  | KnightProvisioningStarted
  | KnightProvisioned
  | KnightTaskStarted
  | KnightTaskProgressed
  | KnightTaskCompleted
  | KnightFailed
  | KnightTerminationRequested
  | KnightTerminated;

/** Every event type name; the `satisfies` fails to compile when one is missing or unknown. */
export const KNIGHT_EVENT_TYPES = Object.keys({
  KnightRequested: true,
  KnightProvisioningStarted: true,
  KnightProvisioned: true,
  KnightTaskStarted: true,
  KnightTaskProgressed: true,
  KnightTaskCompleted: true,
  KnightFailed: true,
  KnightTerminationRequested: true,
  KnightTerminated: true,
} satisfies Record<KnightEvent['type'], true>) as readonly KnightEvent['type'][];
