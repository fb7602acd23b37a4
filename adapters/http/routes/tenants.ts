import { z } from 'zod';
import { changeTenantTier, changeTenantTierInput, eraseTenant, reinstateTenant, suspendTenant, suspendTenantInput } from '../../../commands/tenants/change-tenant.ts';
import { requestAgentVm } from '../../../commands/tenants/agent-vm.ts';
import { createTenant, createTenantInput } from '../../../commands/tenants/create-tenant.ts';
import { asTenantId } from '../../../domain/shared/ids.ts';
import type { TenantId } from '../../../domain/shared/ids.ts';
import type { ReadSide } from '../../../projections/read-side.ts';
import { notFound } from '../http-error.ts';
import { defineRoute, freshnessQuery, noBody, pagedQuery, positioned, tenantIdParam } from './route.ts';

const tenantPath = z.object({ tenantId: tenantIdParam });

const tenantView = async (reads: ReadSide, tenantId: TenantId) => {
  const tenant = await reads.forTenant(tenantId, (r) => r.tenant());
  if (!tenant) throw notFound('tenant_not_found', 'tenant not found');
  return { body: tenant };
};

const tag = 'tenants';

export const tenantRoutes = [
  defineRoute({
    method: 'post', path: '/tenants', tag, summary: 'Create a tenant (its slug is its id)',
    scopes: ['operator'], tenant: 'none', body: createTenantInput, status: 201,
    handle: async ({ body, caller, deps }) => {
      const tenantId = asTenantId(body.slug);
      const result = await createTenant(deps.ports, caller(tenantId), body);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'get', path: '/tenants', tag, summary: 'Every tenant, by tenant id (operator)',
    scopes: ['operator'], tenant: 'none', query: pagedQuery, status: 200,
    handle: async ({ deps, query }) => ({ body: await deps.reads.tenants({ limit: query.limit, cursor: query.cursor }) }),
  }),
  defineRoute({
    method: 'get', path: '/tenants/me', tag, summary: "The caller's own tenant",
    scopes: ['tenant', 'auditor'], tenant: 'credential', query: freshnessQuery, status: 200,
    handle: ({ deps, tenantId }) => tenantView(deps.reads, tenantId),
  }),
  defineRoute({
    method: 'get', path: '/tenants/:tenantId', tag, summary: 'Any tenant',
    scopes: ['operator'], tenant: 'path', params: tenantPath, query: freshnessQuery, status: 200,
    handle: ({ deps, tenantId }) => tenantView(deps.reads, tenantId),
  }),
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/tier', tag, summary: "Change a tenant's tier",
    scopes: ['operator'], tenant: 'path', params: tenantPath, body: changeTenantTierInput, status: 200,
    handle: async ({ deps, tenantId, caller, body }) => {
      const result = await changeTenantTier(deps.ports, caller(), tenantId, body);
      return { body: { tenantId, tier: body.tier, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/suspend', tag, summary: 'Suspend a tenant: its own commands are refused',
    scopes: ['operator'], tenant: 'path', params: tenantPath, body: suspendTenantInput, status: 200,
    handle: async ({ deps, tenantId, caller, body }) => {
      const result = await suspendTenant(deps.ports, caller(), tenantId, body);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/reinstate', tag, summary: 'Reinstate a suspended tenant',
    scopes: ['operator'], tenant: 'path', params: tenantPath, body: noBody, status: 200,
    handle: async ({ deps, tenantId, caller }) => {
      const result = await reinstateTenant(deps.ports, caller(), tenantId);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/tenants/me/agent-vm', tag, summary: "Request the caller's agent VM again after it failed or its bridge token was revoked (provisioning continues after 202)",
    scopes: ['tenant'], tenant: 'credential', body: noBody, status: 202,
    handle: async ({ deps, tenantId, caller, newId }) => {
      const result = await requestAgentVm(deps.ports, caller(), tenantId, newId('agent-vm'));
      return { body: { tenantId, requestId: result.requestId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/agent-vm', tag, summary: "Request a tenant's agent VM again after it failed",
    scopes: ['operator'], tenant: 'path', params: tenantPath, body: noBody, status: 202,
    handle: async ({ deps, tenantId, caller, newId }) => {
      const result = await requestAgentVm(deps.ports, caller(), tenantId, newId('agent-vm'));
      return { body: { tenantId, requestId: result.requestId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'delete', path: '/tenants/:tenantId', tag, summary: 'Erase a tenant (irreversible; its slug stays retired)',
    scopes: ['operator'], tenant: 'path', params: tenantPath, status: 200,
    handle: async ({ deps, tenantId, caller }) => {
      const result = await eraseTenant(deps.ports, caller(), tenantId);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
];
