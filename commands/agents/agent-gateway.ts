import { z } from 'zod';
import { tenantDecider } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
import { isForbiddenHost } from '../../domain/shared/addresses.ts';
import { domainError } from '../../domain/shared/errors.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const connectAgentGatewayInput = z
  .object({
    /** The gateway's base URL; omitted or null: the platform's OPENCLAW_GATEWAY_URL. */
    url: z.string().max(2000).nullable().default(null),
    token: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, 'printable characters without spaces'),
  })
  .strict();

export const revokeBridgeTokenInput = z.object({ reason: text(500).default('revoked by the operator') }).strict();

const tenantCommand = async (ports: CommandPorts, caller: Caller, tenantId: TenantId, command: Parameters<typeof tenantDecider.decide>[0]): Promise<Accepted> =>
  accepted(await ports.shell.handle(tenantDecider, envelope({ ...caller, tenantId }, tenantStream(tenantId), command)));

/** GATEWAY_ALLOW_PRIVATE_NETWORKS: whether a tenant's gateway may be on a loopback, private or link-local address. */
export interface GatewayPolicy {
  readonly allowPrivateNetworks: boolean;
}

const PUBLIC_ONLY: GatewayPolicy = { allowPrivateNetworks: false };

/**
 * A URL whose host is a forbidden address literal or `localhost` is refused before anything is
 * recorded: the platform would call it from inside its own network. A host name is checked when
 * it is resolved, on every call (the gateway adapter), since its addresses can change.
 */
const refuseForbiddenHost = (url: string | null, policy: GatewayPolicy) => {
  if (url === null || policy.allowPrivateNetworks || !URL.canParse(url)) return;
  if (isForbiddenHost(new URL(url).hostname))
    throw domainError('validation', 'gateway_url_forbidden', 'gateway url must name a public address: loopback, private, link-local and other internal addresses (and localhost) are not allowed');
};

/** The tenant's own OpenClaw gateway answers its messages from now on; the token is stored sealed and never shown. */
export const connectAgentGateway = async (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof connectAgentGatewayInput>, policy: GatewayPolicy = PUBLIC_ONLY) => {
  refuseForbiddenHost(input.url, policy);
  return tenantCommand(ports, caller, tenantId, { type: 'ConnectAgentGateway', url: input.url, token: input.token, at: ports.clock().toISOString() });
};

export const disconnectAgentGateway = (ports: CommandPorts, caller: Caller, tenantId: TenantId) =>
  tenantCommand(ports, caller, tenantId, { type: 'DisconnectAgentGateway', at: ports.clock().toISOString() });

/** The agent VM's bridge may no longer connect (a connected one is closed with 4403); re-provisioning hands a new token. */
export const revokeBridgeToken = (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof revokeBridgeTokenInput>) =>
  tenantCommand(ports, caller, tenantId, { type: 'RevokeBridgeToken', reason: input.reason, at: ports.clock().toISOString() });
