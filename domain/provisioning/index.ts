export * from './job.ts';
export * from './names.ts';
export { agentVmJob, FIRST_AGENT_REQUEST_ID } from './agent-vm-job.ts';
export type { AgentVmJobState } from './agent-vm-job.ts';
export { knightJob, KNIGHT_TASK_ID, PREPARED_PERCENT } from './knight-job.ts';
export type { KnightJobState } from './knight-job.ts';
export { reconcile } from './reconcile.ts';
export type { InventoryComputer, KnownKnight, KnownTenant, ReconcileDecision, ReconcileInput } from './reconcile.ts';
