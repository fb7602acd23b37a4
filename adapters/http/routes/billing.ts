import { z } from 'zod';
import { TIERS } from '../../../domain/tiers.ts';
import { notFound } from '../http-error.ts';
import { defineRoute } from './route.ts';
import type { RouteDeps } from './route.ts';

const tag = 'billing';
const links = (deps: RouteDeps) => {
  if (!deps.billing) throw notFound('billing_disabled', 'billing is not enabled on this platform');
  return deps.billing;
};

export const billingRoutes = [
  defineRoute({
    method: 'post', path: '/billing/checkout', tag, summary: 'A Stripe Checkout link to buy a tier: `{url}`; the tier changes once Stripe reports the payment',
    scopes: ['tenant'], tenant: 'credential', body: z.object({ tier: z.enum(TIERS) }).strict(), status: 200,
    handle: async ({ deps, tenantId, body }) => ({ body: { url: await links(deps).checkoutUrl(tenantId, body.tier) } }),
  }),
  defineRoute({
    method: 'post', path: '/billing/portal', tag, summary: "A link to Stripe's customer portal (payment methods, invoices, plan): `{url}`",
    scopes: ['tenant'], tenant: 'credential', status: 200,
    handle: async ({ deps, tenantId }) => ({ body: { url: await links(deps).portalUrl(tenantId) } }),
  }),
];
