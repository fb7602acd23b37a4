import type { AggregateDecider } from '../events.ts';
import type { TenantCommand } from './commands.ts';
import { decideTenant } from './decide.ts';
import { evolveTenant, initialTenantState } from './state.ts';
import type { TenantState } from './state.ts';

export const tenantDecider: AggregateDecider<'tenant', TenantCommand, TenantState> = {
  category: 'tenant',
  initialState: initialTenantState,
  evolve: evolveTenant,
  decide: decideTenant,
};

export type * from './commands.ts';
export type * from './events.ts';
export type * from './facts.ts';
export type * from './state.ts';
export { AGENT_VM_FAILURE_STAGES, API_KEY_SCOPES, TENANT_EVENT_TYPES } from './events.ts';
export { requireActiveTenant, tenantErased, tenantNotFound, tenantSuspended } from './facts.ts';
export { evolveTenant, findApiKey, initialTenantState, tenantFacts } from './state.ts';
export { decideTenant, MAX_ACTIVE_API_KEYS } from './decide.ts';
