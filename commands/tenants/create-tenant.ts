import { z } from 'zod';
import { asTenantId, tenantDecider, TIERS } from '../../domain/index.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const createTenantInput = z
  .object({
    slug: z.string().regex(/^[a-z][a-z0-9-]{2,39}$/, 'lower-case letters, digits and dashes, 3–40 chars, starting with a letter'),
    name: text(200).refine((s) => s.trim().length > 0, 'must not be blank'),
    email: z.email().max(254).optional(),
    tier: z.enum(TIERS).default('free'),
  })
  .strict();
export type CreateTenantInput = z.infer<typeof createTenantInput>;

/** Operator only. The slug is the tenant id, so a taken slug is a conflict decided by the store. */
export const createTenant = async (ports: CommandPorts, caller: Caller, input: CreateTenantInput): Promise<Accepted> => {
  const tenantId = asTenantId(input.slug);
  const result = await ports.shell.handle(
    tenantDecider,
    envelope({ ...caller, tenantId }, tenantStream(tenantId), {
      type: 'CreateTenant',
      tenantId,
      name: input.name,
      email: input.email ?? null,
      tier: input.tier,
      at: ports.clock().toISOString(),
    }),
  );
  return accepted(result);
};
