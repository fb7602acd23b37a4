import { z } from 'zod';
import {
  connectAgentGateway,
  connectAgentGatewayInput,
  disconnectAgentGateway,
  revokeBridgeToken,
  revokeBridgeTokenInput,
} from '../../../commands/agents/agent-gateway.ts';
import { defineRoute, positioned, tenantIdParam } from './route.ts';

const tag = 'agents';
const tenantPath = z.object({ tenantId: tenantIdParam });

export const agentRoutes = [
  defineRoute({
    method: 'post', path: '/agent/gateway', tag, summary: "Connect the caller's own OpenClaw gateway (its token is stored sealed, never shown)",
    scopes: ['tenant'], tenant: 'credential', body: connectAgentGatewayInput, status: 200,
    handle: async ({ deps, tenantId, caller, body }) => {
      const result = await connectAgentGateway(deps.ports, caller(), tenantId, body, deps.gatewayPolicy);
      return { body: { tenantId, gateway: { url: body.url }, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'delete', path: '/agent/gateway', tag, summary: 'Disconnect the gateway: the agent VM (or the built-in agent) answers again',
    scopes: ['tenant'], tenant: 'credential', status: 200,
    handle: async ({ deps, tenantId, caller }) => {
      const result = await disconnectAgentGateway(deps.ports, caller(), tenantId);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/agent/bridge-token/revoke', tag, summary: "Revoke the caller's agent VM bridge token (a connected bridge is cut off)",
    scopes: ['tenant'], tenant: 'credential', body: revokeBridgeTokenInput, status: 200,
    handle: async ({ deps, tenantId, caller, body }) => {
      const result = await revokeBridgeToken(deps.ports, caller(), tenantId, body);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/agent/bridge-token/revoke', tag, summary: "Revoke a tenant's bridge token",
    scopes: ['operator'], tenant: 'path', params: tenantPath, body: revokeBridgeTokenInput, status: 200,
    handle: async ({ deps, tenantId, caller, body }) => {
      const result = await revokeBridgeToken(deps.ports, caller(), tenantId, body);
      return { body: { tenantId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
];
