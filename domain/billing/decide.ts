import { domainError } from '../shared/errors.ts';
import { unreachable } from '../shared/decider.ts';
import type { Tier } from '../tiers.ts';
import type * as C from './commands.ts';
import type { BillingCommand } from './commands.ts';
import type { BillingEvent, InvoiceOrigin } from './events.ts';
import { isNewer, isNewerForInvoice } from './state.ts';
import type { BillingState, OpenAccount, PaymentStanding } from './state.ts';

type Events = readonly BillingEvent[];

/** Statuses after which a subscription bills nothing: the tenant falls back to `free`. */
const ENDED_STATUSES: readonly string[] = ['canceled', 'incomplete_expired'];

/** The tier a subscription webhook puts the tenant on: its price's tier, `free` once it ended, else unchanged (null). */
export const tierAfter = (status: string, priceTier: Tier | null): Tier | null => (ENDED_STATUSES.includes(status) ? 'free' : priceTier);

const recordCustomer = (c: C.RecordCustomer, s: BillingState): Events =>
  s.status === 'none' ? [{ type: 'StripeCustomerCreated', data: { customerId: c.customerId, at: c.at } }] : [];

const recordSubscription = (c: C.RecordSubscription, a: OpenAccount): Events => {
  const { subscriptionId, priceId, tier, at } = c;
  const current = a.subscription;
  if (current?.id === subscriptionId && current.priceId === priceId && current.tier === tier) return [];
  return current?.id === subscriptionId
    ? [{ type: 'SubscriptionMoved', data: { subscriptionId, priceId, tier, at } }]
    : [{ type: 'SubscriptionStarted', data: { subscriptionId, priceId, tier, at } }];
};

/** Is a failed invoice of this origin cleared when `subscriptionId` ends? A one-off or another subscription's invoice is still owed. */
const endsWith = (origin: InvoiceOrigin, subscriptionId: string): boolean =>
  origin.kind === 'unrecorded' || (origin.kind === 'subscription' && origin.subscriptionId === subscriptionId);

/**
 * A subscription that ends or is replaced takes its own invoices' payment failures with it (see
 * PaymentFailureCleared); the standing stays failing while any other failed invoice is unpaid.
 */
const clearFailure = (a: OpenAccount, subscriptionId: string, cause: 'subscription_ended' | 'subscription_replaced', at: string): Events => {
  const p = a.payment;
  if (p.standing !== 'failing') return [];
  const invoiceIds = p.unpaid.filter((u) => endsWith(u.origin, subscriptionId)).map((u) => u.invoiceId);
  if (invoiceIds.length === 0) return [];
  const standing = invoiceIds.length === p.unpaid.length ? 'good' : 'failing';
  return [{ type: 'PaymentFailureCleared', data: { invoiceIds, cause, standing, at } }];
};

const recordEnded = (c: C.RecordSubscriptionEnded, a: OpenAccount): Events =>
  a.subscription?.id === c.subscriptionId
    ? [{ type: 'SubscriptionEnded', data: { subscriptionId: c.subscriptionId, at: c.at } }, ...clearFailure(a, c.subscriptionId, 'subscription_ended', c.at)]
    : [];

const applySubscription = (c: C.ApplySubscriptionUpdate, a: OpenAccount): Events => {
  const { stripeEventId, created, subscriptionId, status, priceId, tier, at } = c;
  if (!isNewer(c, a.subscriptionMark)) return [];
  // Another subscription of the customer (one Checkout is replacing, or one already replaced) says nothing about the tier.
  if (a.subscription !== null && a.subscription.id !== subscriptionId) return [];
  if (a.subscription === null && ENDED_STATUSES.includes(status)) return [];
  // a subscription that has ended stays ended: an update Stripe sent before it ended, arriving late, says nothing
  if (a.endedSubscriptions.includes(subscriptionId)) return [];
  const synced: BillingEvent = { type: 'StripeSubscriptionSynced', data: { stripeEventId, created, subscriptionId, status, priceId, tier: tierAfter(status, tier), at } };
  return ENDED_STATUSES.includes(status) ? [synced, ...clearFailure(a, subscriptionId, 'subscription_ended', at)] : [synced];
};

/** Is `invoiceId` one of the failed invoices not settled yet? */
const isUnpaid = (p: PaymentStanding, invoiceId: string): boolean => p.standing === 'failing' && p.unpaid.some((u) => u.invoiceId === invoiceId);

/** The standing once `invoiceId` is settled (paid or voided): failing while another failed invoice is unpaid. */
const standingWithout = (p: PaymentStanding, invoiceId: string): 'good' | 'failing' =>
  p.standing === 'failing' && p.unpaid.some((u) => u.invoiceId !== invoiceId) ? 'failing' : 'good';

const applyInvoice = (c: C.ApplyInvoice, a: OpenAccount): Events => {
  const { stripeEventId, created, invoiceId, subscriptionId, at } = c;
  const p = a.payment;
  const unpaid = isUnpaid(p, invoiceId);
  // a voided invoice is final at Stripe: its failure, delivered after the void, says nothing
  if (!c.paid && a.voidedInvoices.includes(invoiceId)) return [];
  // a failed invoice's payment counts whenever it arrives (a paid invoice stays paid); anything else in Stripe's
  // order of that invoice's webhooks: a newer payment of another invoice does not hide this one's failure
  if (!(c.paid && unpaid) && !isNewerForInvoice(c, a, invoiceId)) return [];
  if (c.paid) {
    // only the failed invoices themselves clear their failure: another invoice paid (a one-off, a proration) does not
    return [{ type: 'InvoicePaid', data: { stripeEventId, created, invoiceId, standing: standingWithout(p, invoiceId), at } }];
  }
  const graceEndsAt = a.payment.standing === 'failing' ? a.payment.graceEndsAt : c.graceEndsAt;
  const origin: InvoiceOrigin = subscriptionId === null ? { kind: 'one_off' } : { kind: 'subscription', subscriptionId };
  return [{ type: 'InvoicePaymentFailed', data: { stripeEventId, created, invoiceId, graceEndsAt, origin, at } }];
};

/**
 * A voided invoice is owed by nobody: its failure clears as a payment would. Like a payment, the void of
 * a failed invoice counts whenever it arrives; a void of any other invoice is applied in Stripe's order.
 */
const voidInvoice = (c: C.ApplyInvoiceVoided, a: OpenAccount): Events => {
  const { stripeEventId, created, invoiceId, at } = c;
  const p = a.payment;
  const unpaid = isUnpaid(p, invoiceId);
  if (a.voidedInvoices.includes(invoiceId) || (!unpaid && !isNewerForInvoice(c, a, invoiceId))) return [];
  return [{ type: 'InvoiceVoided', data: { stripeEventId, created, invoiceId, standing: standingWithout(p, invoiceId), at } }];
};

const applyCheckout = (c: C.ApplyCheckout, a: OpenAccount): Events => {
  const { stripeEventId, created, sessionId, subscriptionId, priceId, tier, at } = c;
  if (a.subscription?.id === subscriptionId || a.endedSubscriptions.includes(subscriptionId)) return [];
  // Ordered among Checkouts only: a later update of the subscription it replaces says nothing about it.
  if (!isNewer(c, a.checkoutMark)) {
    // A later Checkout won already: this one's subscription is an extra one the customer would pay. It ends
    // (the worker cancels it), as it would have had the webhooks arrived in order, replaced by the later one.
    const superseded: BillingEvent = { type: 'CheckoutSuperseded', data: { stripeEventId, created, sessionId, subscriptionId, at } };
    return [superseded, ...clearFailure(a, subscriptionId, 'subscription_replaced', at)];
  }
  const replaces = a.subscription?.id ?? null;
  const completed: BillingEvent = { type: 'CheckoutCompleted', data: { stripeEventId, created, sessionId, subscriptionId, priceId, tier, replaces, at } };
  return replaces === null ? [completed] : [completed, ...clearFailure(a, replaces, 'subscription_replaced', at)];
};

const endGrace = (c: C.EndGracePeriod, a: OpenAccount): Events => {
  const p = a.payment;
  // Both instants are written by the clock as ISO-8601 UTC of one width, so they compare as text.
  if (p.standing !== 'failing' || p.graceEnded || c.at < p.graceEndsAt) return [];
  return [{ type: 'GracePeriodEnded', data: { invoiceId: p.invoiceId, at: c.at } }];
};

/**
 * Billing decisions for one tenant. Everything is idempotent: a repeated outcome or webhook, or
 * one older than what was applied, decides nothing. A closed account (erasure) accepts nothing.
 */
export const decideBilling = (command: BillingCommand, state: BillingState): Events => {
  if (command.type === 'RecordCustomer') return recordCustomer(command, state);
  if (state.status !== 'open') {
    if (command.type === 'CloseBillingAccount' || state.status === 'closed') return [];
    throw domainError('conflict', 'billing_account_missing', 'the tenant has no Stripe customer yet');
  }
  switch (command.type) {
    case 'RecordSubscription':
      return recordSubscription(command, state);
    case 'RecordSubscriptionEnded':
      return recordEnded(command, state);
    case 'CloseBillingAccount':
      return [{ type: 'BillingAccountClosed', data: { at: command.at } }];
    case 'ApplySubscriptionUpdate':
      return applySubscription(command, state);
    case 'ApplyInvoice':
      return applyInvoice(command, state);
    case 'ApplyInvoiceVoided':
      return voidInvoice(command, state);
    case 'ApplyCheckout':
      return applyCheckout(command, state);
    case 'EndGracePeriod':
      return endGrace(command, state);
    default:
      return unreachable(command);
  }
};
