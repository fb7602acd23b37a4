import type { DomainEvent } from '../shared/decider.ts';
import type { Tier } from '../tiers.ts';

type Event<Type extends string, Data> = DomainEvent<Type, Readonly<Data> & { readonly at: string }>;

/**
 * Where a fact learnt from a Stripe webhook sits in Stripe's order: the Stripe event's id and its
 * `created` (unix seconds). Webhooks arrive repeated and out of order; a fact older than the one
 * already applied is ignored, ties broken by the event id so every arrival order ends the same.
 */
export interface StripeMark {
  readonly stripeEventId: string;
  readonly created: number;
}

/** The platform made (or found, by idempotency key) the tenant's Stripe customer. */
export type StripeCustomerCreated = Event<'StripeCustomerCreated', { customerId: string }>;
/** The platform subscribed the customer to its tier's price. */
export type SubscriptionStarted = Event<'SubscriptionStarted', { subscriptionId: string; priceId: string; tier: Tier }>;
/** The platform moved the subscription to another tier's price. */
export type SubscriptionMoved = Event<'SubscriptionMoved', { subscriptionId: string; priceId: string; tier: Tier }>;
/** The platform cancelled a subscription (erasure, a tier without a price, one replaced by Checkout). */
export type SubscriptionEnded = Event<'SubscriptionEnded', { subscriptionId: string }>;
/** Erasure: the Stripe customer was deleted; nothing is billed or reported for the tenant again. */
export type BillingAccountClosed = Event<'BillingAccountClosed', Record<never, never>>;
/**
 * A `customer.subscription.updated|deleted` webhook applied. `tier` is the tier the tenant should
 * be on (null: the price is none of ours, the tier stays as it is).
 */
export type StripeSubscriptionSynced = Event<
  'StripeSubscriptionSynced',
  StripeMark & { subscriptionId: string; status: string; priceId: string | null; tier: Tier | null }
>;
/**
 * What an invoice was issued for: a subscription, or nothing (`one_off`). `unrecorded`: a failure
 * recorded before invoices carried their subscription (InvoicePaymentFailed v1); every subscription
 * that ended cleared every failure then, so any subscription ending or replaced still clears it.
 */
export type InvoiceOrigin =
  | { readonly kind: 'subscription'; readonly subscriptionId: string }
  | { readonly kind: 'one_off' }
  | { readonly kind: 'unrecorded' };
/**
 * `invoice.payment_failed`: the tenant is suspended at `graceEndsAt` unless every failed invoice is
 * paid first. `origin` decides which subscription's end clears the failure (v1 had none: `unrecorded`).
 */
export type InvoicePaymentFailed = Event<'InvoicePaymentFailed', StripeMark & { invoiceId: string; graceEndsAt: string; origin: InvoiceOrigin }>;
/**
 * `invoice.paid`. `standing` is the payment standing it leaves: `good` once no failed invoice is
 * left unpaid (the tenant is reinstated if billing had suspended it), `failing` while another failed
 * invoice is still unpaid. v1 had no `standing`: any paid invoice cleared every failure then, so it
 * reads as `good`.
 */
export type InvoicePaid = Event<'InvoicePaid', StripeMark & { invoiceId: string; standing: 'good' | 'failing' }>;
/**
 * `invoice.voided`: the invoice is cancelled and nobody owes it, so its failure (if it failed) is
 * cleared as if it were paid. `standing` is the standing it leaves, as for `InvoicePaid`.
 */
export type InvoiceVoided = Event<'InvoiceVoided', StripeMark & { invoiceId: string; standing: 'good' | 'failing' }>;
/**
 * A subscription ended or was replaced by a Checkout while some of its invoices were failing
 * (`invoiceIds`): their failure no longer holds the tenant (it is on the new subscription, or back on
 * `free`). A failed invoice of something else (a one-off, another subscription) is still owed, so
 * `standing` is the standing it leaves, as for `InvoicePaid`. v1 had no `standing`: a subscription's
 * end cleared every failure then, so it reads as `good`.
 */
export type PaymentFailureCleared = Event<
  'PaymentFailureCleared',
  { invoiceIds: readonly string[]; cause: 'subscription_ended' | 'subscription_replaced'; standing: 'good' | 'failing' }
>;
/** `checkout.session.completed`: the tenant paid for a tier through Checkout; `replaces` is cancelled. */
export type CheckoutCompleted = Event<
  'CheckoutCompleted',
  StripeMark & { sessionId: string; subscriptionId: string; priceId: string; tier: Tier; replaces: string | null }
>;
/**
 * `checkout.session.completed` of a Checkout older than one already applied (their webhooks arrived out
 * of order): the later Checkout's subscription is the account's, so this one's `subscriptionId` is an
 * extra subscription the customer would pay beside it. Billing cancels it, as it cancels one replaced.
 */
export type CheckoutSuperseded = Event<'CheckoutSuperseded', StripeMark & { sessionId: string; subscriptionId: string }>;
/** The grace period after a failed payment ran out: the tenant is to be suspended. */
export type GracePeriodEnded = Event<'GracePeriodEnded', { invoiceId: string }>;

export type BillingEvent =
  | StripeCustomerCreated
  | SubscriptionStarted
  | SubscriptionMoved
  | SubscriptionEnded
  | BillingAccountClosed
  | StripeSubscriptionSynced
  | InvoicePaymentFailed
  | InvoicePaid
  | InvoiceVoided
  | PaymentFailureCleared
  | CheckoutCompleted
  | CheckoutSuperseded
  | GracePeriodEnded;

export const BILLING_EVENT_TYPES = Object.keys({
  StripeCustomerCreated: true,
  SubscriptionStarted: true,
  SubscriptionMoved: true,
  SubscriptionEnded: true,
  BillingAccountClosed: true,
  StripeSubscriptionSynced: true,
  InvoicePaymentFailed: true,
  InvoicePaid: true,
  InvoiceVoided: true,
  PaymentFailureCleared: true,
  CheckoutCompleted: true,
  CheckoutSuperseded: true,
  GracePeriodEnded: true,
} satisfies Record<BillingEvent['type'], true>) as readonly BillingEvent['type'][];

/** The reason billing gives when it suspends a tenant; only a suspension with this reason is lifted by a payment. */
export const PAYMENT_SUSPENSION_REASON = 'payment failed: the grace period ended without a paid invoice';
