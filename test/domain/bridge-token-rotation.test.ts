import { describe, it } from 'vitest';
import { asTenantId } from '../../domain/shared/ids.ts';
import { tenantDecider } from '../../domain/tenant/index.ts';
import type { TenantEvent } from '../../domain/tenant/index.ts';
import { spec } from '../support/decider-spec.ts';

/**
 * docs/agents.md: "re-provisioning rotates [the bridge token]". Once the token is revoked the agent VM is
 * ready but has no token the hub accepts; asking for the agent VM again must start a new provisioning
 * (a fresh token), else the tenant's agent stays cut off for good.
 */
const at = '2025-03-01T10:00:00.000Z';
const tenantId = asTenantId('acme');
const tenant = spec(tenantDecider).given;
const history: TenantEvent[] = [
  { type: 'TenantCreated', data: { tenantId, name: 'Acme', email: null, tier: 'pro', at } },
  { type: 'AgentVmRequested', data: { requestId: 'agent-1', at } },
  { type: 'AgentVmReady', data: { requestId: 'agent-1', vmId: 'vm-1', bridgeTokenHash: 'sha256:0123456789abcdef0123', at } },
  { type: 'BridgeTokenRevoked', data: { bridgeTokenHash: 'sha256:0123456789abcdef0123', reason: 'leaked', at } },
];

describe('after a bridge token is revoked', () => {
  it('requesting the agent VM again provisions it anew, so it gets a fresh token', () => {
    tenant(history).when({ type: 'RequestAgentVm', requestId: 'r-2', at }).then([{ type: 'AgentVmRequested', data: { requestId: 'r-2', at } }]);
  });
});
