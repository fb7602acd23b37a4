import { createHash, timingSafeEqual } from 'node:crypto';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { tenantDecider } from '../../domain/index.ts';
import { TENANT_ID_PATTERN } from '../../domain/shared/ids.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { BRIDGE_CLOSE } from './bridge-protocol.ts';
import type { BridgeVerdict } from './bridge-hub.ts';

/** The stored form of a bridge token, as the provisioning saga records it (`AgentVmReady.bridgeTokenHash`). */
export const bridgeTokenHash = (token: string): string => `sha256:${createHash('sha256').update(token).digest('hex')}`;

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const REFUSED: BridgeVerdict = { ok: false, close: BRIDGE_CLOSE.refused, reason: 'bridge token refused' };
const NOT_READY: BridgeVerdict = { ok: false, close: BRIDGE_CLOSE.notReady, reason: 'the agent VM is not ready yet' };

/**
 * A bridge may connect while its token's hash is the tenant's current agent VM's. A revoked token
 * is told so (4403). While the tenant's agent VM is being provisioned (requested: the saga hands
 * the token and starts the bridge before it records the hash with `AgentVmReady`) any other token
 * is told to come back (4503, not final). Anything else — unknown tenant, forged token, another
 * tenant's token against a ready VM — gets the same refusal (4401), so the answer reveals nothing
 * about other tenants' tokens.
 */
export const bridgeTokenChecker = (shell: CommandShell) => {
  const currentHash = async (
    tenantId: string,
  ): Promise<{ current: string | null; provisioning: boolean; revoked: readonly string[] } | undefined> => {
    const { state } = await shell.state(tenantDecider, tenantStream(tenantId as TenantId), 0);
    if (state.status !== 'active' && state.status !== 'suspended') return undefined;
    return {
      current: state.agentVm.status === 'ready' ? state.agentVm.bridgeTokenHash : null,
      provisioning: state.agentVm.status === 'requested',
      revoked: state.revokedBridgeTokens,
    };
  };
  return {
    async verify(tenantId: string, token: string): Promise<BridgeVerdict> {
      if (!TENANT_ID_PATTERN.test(tenantId)) return REFUSED;
      const hash = bridgeTokenHash(token);
      const tenant = await currentHash(tenantId);
      if (!tenant) return REFUSED;
      if (tenant.current !== null && same(tenant.current, hash)) return { ok: true, tokenHash: hash };
      if (tenant.revoked.some((revoked) => same(revoked, hash))) return { ok: false, close: BRIDGE_CLOSE.revoked, reason: 'bridge token revoked' };
      if (tenant.provisioning) return NOT_READY;
      return REFUSED;
    },
    async isCurrent(tenantId: string, tokenHash: string): Promise<boolean> {
      const tenant = await currentHash(tenantId);
      return tenant?.current !== null && tenant?.current !== undefined && same(tenant.current, tokenHash);
    },
  };
};
