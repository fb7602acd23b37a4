import { unreachable } from '../shared/decider.ts';
import type { KnightId, TenantId } from '../shared/ids.ts';
import type { KnightEvent, KnightFailureStage, KnightSpec } from './events.ts';

/**
 * none → requested → provisioning → provisioned ⇄ working; any live state → failed;
 * any existing state → terminating → terminated (absorbing).
 */
export interface KnightRecord {
  readonly knightId: KnightId;
  readonly tenantId: TenantId;
  readonly task: string;
  readonly spec: KnightSpec;
  readonly vmName: string | null;
  readonly vmId: string | null;
  readonly url: string | null;
  /** The most recently started task, kept so a repeated start or late report is recognised. */
  readonly lastTaskId: string | null;
  readonly lastCompletedTaskId: string | null;
  readonly completedTasks: number;
}

export interface CurrentTask {
  readonly taskId: string;
  readonly description: string;
  readonly percent: number;
  readonly note: string;
}

export type KnightState =
  | { readonly status: 'none' }
  | (KnightRecord & { readonly status: 'requested' })
  | (KnightRecord & { readonly status: 'provisioning' })
  | (KnightRecord & { readonly status: 'provisioned' })
  | (KnightRecord & { readonly status: 'working'; readonly currentTask: CurrentTask })
  | (KnightRecord & { readonly status: 'failed'; readonly failureStage: KnightFailureStage; readonly failureReason: string })
  | (KnightRecord & { readonly status: 'terminating'; readonly terminationReason: string })
  | (KnightRecord & { readonly status: 'terminated' });

export type ExistingKnight = Exclude<KnightState, { status: 'none' }>;
export type KnightStatus = KnightState['status'];

export const initialKnightState = (): KnightState => ({ status: 'none' });

const recordOf = (k: ExistingKnight): KnightRecord => ({
  knightId: k.knightId,
  tenantId: k.tenantId,
  task: k.task,
  spec: k.spec,
  vmName: k.vmName,
  vmId: k.vmId,
  url: k.url,
  lastTaskId: k.lastTaskId,
  lastCompletedTaskId: k.lastCompletedTaskId,
  completedTasks: k.completedTasks,
});

const onExisting = (state: KnightState, change: (knight: ExistingKnight) => KnightState): KnightState =>
  state.status === 'none' ? state : change(state);

export const evolveKnight = (state: KnightState, event: KnightEvent): KnightState => {
  switch (event.type) {
    case 'KnightRequested': {
      if (state.status !== 'none') return state;
      const { knightId, tenantId, task, spec } = event.data;
      const empty = { vmName: null, vmId: null, url: null, lastTaskId: null, lastCompletedTaskId: null, completedTasks: 0 };
      return { status: 'requested', knightId, tenantId, task, spec, ...empty };
    }
    case 'KnightProvisioningStarted':
      return onExisting(state, (k) => ({ ...recordOf(k), status: 'provisioning', vmName: event.data.vmName }));
    case 'KnightProvisioned': {
      const { vmId, url } = event.data;
      return onExisting(state, (k) => ({ ...recordOf(k), status: 'provisioned', vmId, url }));
    }
    case 'KnightTaskStarted': {
      const { taskId, description } = event.data;
      const currentTask = { taskId, description, percent: 0, note: '' };
      return onExisting(state, (k) => ({ ...recordOf(k), status: 'working', lastTaskId: taskId, currentTask }));
    }
    case 'KnightTaskProgressed': {
      const { percent, note } = event.data;
      return state.status === 'working' ? { ...state, currentTask: { ...state.currentTask, percent, note } } : state;
    }
    case 'KnightTaskCompleted':
      return onExisting(state, (k) => ({
        ...recordOf(k),
        status: 'provisioned',
        lastCompletedTaskId: event.data.taskId,
        completedTasks: k.completedTasks + 1,
      }));
    case 'KnightFailed':
      return onExisting(state, (k) => ({
        ...recordOf(k),
        status: 'failed',
        failureStage: event.data.stage,
        failureReason: event.data.reason,
      }));
    case 'KnightTerminationRequested':
      return onExisting(state, (k) => ({ ...recordOf(k), status: 'terminating', terminationReason: event.data.reason }));
    case 'KnightTerminated':
      return onExisting(state, (k) => ({ ...recordOf(k), status: 'terminated' }));
    default:
      return unreachable(event);
  }
};
