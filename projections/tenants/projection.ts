import { TENANT_EVENT_TYPES } from '../../domain/index.ts';
import type { Decoded } from '../../domain/events.ts';
import type { Projection, Row } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

const noFailure = { agent_vm_failure_stage: null, agent_vm_failure_reason: null };

const fold = (row: Row | undefined, e: Decoded): Row | undefined => {
  const at = atOf(e);
  if (e.type === 'TenantCreated')
    return {
      tenant_id: e.data.tenantId,
      name: e.data.name,
      email: e.data.email,
      tier: e.data.tier,
      status: 'active',
      telegram_bot: null,
      whatsapp_number: null,
      agent_vm_status: null,
      agent_vm_id: null,
      agent_vm_request_id: null,
      agent_vm_failure_stage: null,
      agent_vm_failure_reason: null,
      created_at: at,
      updated_at: at,
    };
  if (!row) return undefined;
  const next = { ...row, updated_at: at };
  switch (e.type) {
    case 'TenantTierChanged':
      return { ...next, tier: e.data.to };
    case 'TelegramBotConnected':
      return { ...next, telegram_bot: e.data.botUsername };
    case 'TelegramBotDisconnected':
      return { ...next, telegram_bot: null };
    case 'WhatsAppNumberConnected':
      return { ...next, whatsapp_number: e.data.displayPhoneNumber };
    case 'WhatsAppNumberDisconnected':
      return { ...next, whatsapp_number: null };
    case 'AgentVmRequested':
      return { ...next, ...noFailure, agent_vm_status: 'requested', agent_vm_id: null, agent_vm_request_id: e.data.requestId };
    case 'AgentVmReady':
      return { ...next, ...noFailure, agent_vm_status: 'ready', agent_vm_id: e.data.vmId, agent_vm_request_id: e.data.requestId };
    case 'AgentVmFailed':
      return {
        ...next,
        agent_vm_status: 'failed',
        agent_vm_id: null,
        agent_vm_request_id: e.data.requestId,
        agent_vm_failure_stage: e.data.stage,
        agent_vm_failure_reason: e.data.reason,
      };
    case 'TenantSuspended':
      return { ...next, status: 'suspended' };
    case 'TenantReinstated':
      return { ...next, status: 'active' };
    case 'TenantErased':
      // personal data goes; the row stays so the slug keeps answering "erased"
      return { ...next, status: 'erased', name: '', email: null, telegram_bot: null, whatsapp_number: null };
    case 'ApiKeyIssued':
    case 'ApiKeyRevoked':
      return undefined;
    default:
      return undefined;
  }
};

export const tenantsProjection: Projection = {
  name: 'tenants',
  tables: [
    {
      name: 'tenants',
      columns: {
        name: 'text',
        email: 'text',
        tier: 'text',
        status: 'text',
        telegram_bot: 'text',
        whatsapp_number: 'text',
        agent_vm_status: 'text',
        agent_vm_id: 'text',
        agent_vm_request_id: 'text',
        agent_vm_failure_stage: 'text',
        agent_vm_failure_reason: 'text',
        created_at: 'timestamptz',
        updated_at: 'timestamptz',
      },
      primaryKey: ['tenant_id'],
    },
  ],
  reducers: [
    {
      table: 'tenants',
      handles: TENANT_EVENT_TYPES.filter((t) => t !== 'ApiKeyIssued' && t !== 'ApiKeyRevoked'),
      key: (event) => ({ tenant_id: streamOf(event).tenantId }),
      apply: fold,
      loadsRow: (event) => event.type !== 'TenantCreated',
    },
  ],
};
