import type { KnightId, TenantId } from '../shared/ids.ts';
import type { TenantFacts } from '../tenant/facts.ts';
import type { KnightFailureStage, KnightSpec } from './events.ts';

type Command<Type extends string, Data> = Readonly<Data> & { readonly type: Type; readonly at: string };

/** `activeKnights` is the tenant's count of knights at work (`KNIGHT_STATUSES_AT_WORK`), looked up by the handler. */
export type DeployKnight = Command<
  'DeployKnight',
  { knightId: KnightId; tenantId: TenantId; task: string; spec: KnightSpec; tenant: TenantFacts; activeKnights: number }
>;
export type StartKnightProvisioning = Command<'StartKnightProvisioning', { vmName: string }>;
export type MarkKnightProvisioned = Command<'MarkKnightProvisioned', { vmId: string; url: string | null }>;
export type StartKnightTask = Command<'StartKnightTask', { taskId: string; description: string; tenant: TenantFacts }>;
export type ReportKnightProgress = Command<'ReportKnightProgress', { taskId: string; percent: number; note: string }>;
export type CompleteKnightTask = Command<'CompleteKnightTask', { taskId: string; result: string; screenshotUrl: string | null }>;
export type FailKnight = Command<'FailKnight', { stage: KnightFailureStage; reason: string }>;
export type RequestKnightTermination = Command<'RequestKnightTermination', { reason: string }>;
export type MarkKnightTerminated = Command<'MarkKnightTerminated', Record<never, never>>;

export type KnightCommand =
  | DeployKnight
  | StartKnightProvisioning
  | MarkKnightProvisioned
  | StartKnightTask
  | ReportKnightProgress
  | CompleteKnightTask
  | FailKnight
  | RequestKnightTermination
  | MarkKnightTerminated;
