import { z } from 'zod';
import { tenantDecider } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
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

/** The tenant's own OpenClaw gateway answers its messages from now on; the token is stored sealed and never shown. */
export const connectAgentGateway = (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof connectAgentGatewayInput>) =>
  tenantCommand(ports, caller, tenantId, { type: 'ConnectAgentGateway', url: input.url, token: input.token, at: ports.clock().toISOString() });

export const disconnectAgentGateway = (ports: CommandPorts, caller: Caller, tenantId: TenantId) =>
  tenantCommand(ports, caller, tenantId, { type: 'DisconnectAgentGateway', at: ports.clock().toISOString() });

/** The agent VM's bridge may no longer connect (a connected one is closed with 4403); re-provisioning hands a new token. */
export const revokeBridgeToken = (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof revokeBridgeTokenInput>) =>
  tenantCommand(ports, caller, tenantId, { type: 'RevokeBridgeToken', reason: input.reason, at: ports.clock().toISOString() });
