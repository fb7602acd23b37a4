import { z } from 'zod';
import { tenantDecider, TIERS } from '../../domain/index.ts';
import type { TenantCommand, TenantId } from '../../domain/index.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts, WithoutAt } from '../context.ts';

// The operator's lifecycle commands on a tenant: each is one line mapping input to a domain command.

export const changeTenantTierInput = z.object({ tier: z.enum(TIERS) }).strict();
export const suspendTenantInput = z.object({ reason: text(500).refine((s) => s.trim().length > 0, 'must not be blank') }).strict();

const run = async (ports: CommandPorts, caller: Caller, tenantId: TenantId, command: WithoutAt<TenantCommand>) =>
  accepted(
    await ports.shell.handle(
      tenantDecider,
      envelope({ ...caller, tenantId }, tenantStream(tenantId), { ...command, at: ports.clock().toISOString() } as TenantCommand),
    ),
  );

export const changeTenantTier = (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof changeTenantTierInput>): Promise<Accepted> =>
  run(ports, caller, tenantId, { type: 'ChangeTenantTier', tier: input.tier });

export const suspendTenant = (ports: CommandPorts, caller: Caller, tenantId: TenantId, input: z.infer<typeof suspendTenantInput>): Promise<Accepted> =>
  run(ports, caller, tenantId, { type: 'SuspendTenant', reason: input.reason });

export const reinstateTenant = (ports: CommandPorts, caller: Caller, tenantId: TenantId): Promise<Accepted> =>
  run(ports, caller, tenantId, { type: 'ReinstateTenant' });

/**
 * Records TenantErased, then deletes the tenant's data key. Repeating it (the event is already
 * there, nothing is appended) deletes the key again: a failure between the two is healed by a retry.
 */
export const eraseTenant = async (ports: CommandPorts, caller: Caller, tenantId: TenantId): Promise<Accepted> => {
  const result = await run(ports, caller, tenantId, { type: 'EraseTenant' });
  await ports.eraseDataKey?.(tenantId);
  return result;
};
