import { z } from 'zod';

/**
 * Which addresses a tenant's gateway may have. Off (the production default): only globally
 * routable ones, checked when the URL is connected and again on every connection after DNS.
 * On: any address, for a gateway on this machine or network (tests, the embedded default).
 */
export const gatewayPolicyConfigSchema = z.object({
  GATEWAY_ALLOW_PRIVATE_NETWORKS: z.stringbool({ truthy: ['true', '1'], falsy: ['false', '0'] }).default(false),
});
export type GatewayPolicyConfig = z.infer<typeof gatewayPolicyConfigSchema>;
