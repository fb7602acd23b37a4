import type { Decoded } from '../../domain/events.ts';
import { KNIGHT_EVENT_TYPES } from '../../domain/index.ts';
import type { Projection, Row } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

const fold = (row: Row | undefined, e: Decoded): Row | undefined => {
  const at = atOf(e);
  if (e.type === 'KnightRequested') {
    const { tenantId, entityId } = streamOf(e);
    return {
      tenant_id: tenantId,
      knight_id: entityId,
      status: 'requested',
      task: e.data.task,
      cpu: e.data.spec.cpu,
      ram_gb: e.data.spec.ramGb,
      vm_id: null,
      vm_name: null,
      url: null,
      progress: null,
      progress_note: null,
      result: null,
      screenshot_url: null,
      failure_stage: null,
      failure_reason: null,
      created_at: at,
      updated_at: at,
      created_position: String(e.position),
    };
  }
  if (!row) return undefined;
  const next = { ...row, updated_at: at };
  switch (e.type) {
    case 'KnightProvisioningStarted':
      return { ...next, status: 'provisioning', vm_name: e.data.vmName };
    case 'KnightProvisioned':
      return { ...next, status: 'provisioned', vm_id: e.data.vmId, url: e.data.url };
    case 'KnightTaskStarted':
      return { ...next, status: 'working', progress: 0, progress_note: null };
    case 'KnightTaskProgressed':
      return { ...next, progress: e.data.percent, progress_note: e.data.note };
    case 'KnightTaskCompleted':
      return { ...next, status: 'provisioned', progress: 100, result: e.data.result, screenshot_url: e.data.screenshotUrl };
    case 'KnightFailed':
      return { ...next, status: 'failed', failure_stage: e.data.stage, failure_reason: e.data.reason };
    case 'KnightTerminationRequested':
      return { ...next, status: 'terminating' };
    case 'KnightTerminated':
      return { ...next, status: 'terminated' };
    default:
      return undefined;
  }
};

export const knightsProjection: Projection = {
  name: 'knights',
  tables: [
    {
      name: 'knights',
      columns: {
        knight_id: 'text',
        status: 'text',
        task: 'text',
        cpu: 'integer',
        ram_gb: 'integer',
        vm_id: 'text',
        vm_name: 'text',
        url: 'text',
        progress: 'integer',
        progress_note: 'text',
        result: 'text',
        screenshot_url: 'text',
        failure_stage: 'text',
        failure_reason: 'text',
        created_at: 'timestamptz',
        updated_at: 'timestamptz',
        created_position: 'bigint',
      },
      primaryKey: ['tenant_id', 'knight_id'],
      indexes: [['tenant_id', 'created_position DESC'], ['tenant_id', 'status'], ['vm_id']],
    },
  ],
  reducers: [
    {
      table: 'knights',
      handles: KNIGHT_EVENT_TYPES,
      key: (event) => {
        const { tenantId, entityId } = streamOf(event);
        return { tenant_id: tenantId, knight_id: entityId };
      },
      apply: fold,
      loadsRow: (event) => event.type !== 'KnightRequested',
    },
  ],
};
