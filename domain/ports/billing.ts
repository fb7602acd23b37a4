import type { Tier } from '../tiers.ts';

/** Links to Stripe's hosted pages for a tenant: Checkout to buy a tier, the portal to manage payment. */
export interface BillingLinks {
  checkoutUrl(tenantId: string, tier: Tier): Promise<string>;
  portalUrl(tenantId: string): Promise<string>;
}
