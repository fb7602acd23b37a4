import { z } from 'zod';
import type { BillingEvent } from '../../../domain/billing/events.ts';
import { TIERS } from '../../../domain/tiers.ts';
import { defineCatalog, instant, olderVersion } from '../catalog.ts';
import { token } from './common.ts';

const at = instant;
const tier = z.enum(TIERS);
/** Stripe ids (`cus_…`, `sub_…`, `price_…`, `evt_…`) and statuses: printable, no spaces. */
const stripeId = token;
const mark = { stripeEventId: stripeId, created: z.number().int().nonnegative() };
const origin = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('subscription'), subscriptionId: stripeId }),
  z.strictObject({ kind: z.literal('one_off') }),
  z.strictObject({ kind: z.literal('unrecorded') }),
]);
const standing = z.enum(['good', 'failing']);
const clearedBy = z.enum(['subscription_ended', 'subscription_replaced']);

/** Nothing personal: Stripe ids, prices and statuses only (the customer's name and email stay at Stripe and in TenantCreated). */
export const billingCatalog = defineCatalog<BillingEvent>('billing', {
  StripeCustomerCreated: { schema: z.strictObject({ customerId: stripeId, at }) },
  SubscriptionStarted: { schema: z.strictObject({ subscriptionId: stripeId, priceId: stripeId, tier, at }) },
  SubscriptionMoved: { schema: z.strictObject({ subscriptionId: stripeId, priceId: stripeId, tier, at }) },
  SubscriptionEnded: { schema: z.strictObject({ subscriptionId: stripeId, at }) },
  BillingAccountClosed: { schema: z.strictObject({ at }) },
  StripeSubscriptionSynced: {
    schema: z.strictObject({ ...mark, subscriptionId: stripeId, status: stripeId, priceId: stripeId.nullable(), tier: tier.nullable(), at }),
  },
  InvoicePaymentFailed: {
    schema: z.strictObject({ ...mark, invoiceId: stripeId, graceEndsAt: instant, origin, at }),
    // v1 did not record the invoice's subscription: any subscription's end cleared the failure then, and still does
    older: [olderVersion(z.strictObject({ ...mark, invoiceId: stripeId, graceEndsAt: instant, at }), (v1) => ({ ...v1, origin: { kind: 'unrecorded' } }))],
  },
  InvoicePaid: {
    schema: z.strictObject({ ...mark, invoiceId: stripeId, standing, at }),
    // v1 had no standing: any paid invoice cleared every failure then
    older: [olderVersion(z.strictObject({ ...mark, invoiceId: stripeId, at }), (v1) => ({ ...v1, standing: 'good' }))],
  },
  InvoiceVoided: { schema: z.strictObject({ ...mark, invoiceId: stripeId, standing, at }) },
  PaymentFailureCleared: {
    schema: z.strictObject({ invoiceIds: z.array(stripeId).max(1000), cause: clearedBy, standing, at }),
    // v1 had no standing: a subscription's end cleared every failure then
    older: [olderVersion(z.strictObject({ invoiceIds: z.array(stripeId).max(1000), cause: clearedBy, at }), (v1) => ({ ...v1, standing: 'good' }))],
  },
  CheckoutCompleted: {
    schema: z.strictObject({ ...mark, sessionId: stripeId, subscriptionId: stripeId, priceId: stripeId, tier, replaces: stripeId.nullable(), at }),
  },
  CheckoutSuperseded: { schema: z.strictObject({ ...mark, sessionId: stripeId, subscriptionId: stripeId, at }) },
  GracePeriodEnded: { schema: z.strictObject({ invoiceId: stripeId, at }) },
});
