import type { Tier } from '../tiers.ts';
import type { StripeMark } from './events.ts';

type Command<Type extends string, Data = Record<never, never>> = Readonly<Data> & { readonly type: Type; readonly at: string };

// Outcomes of the platform's own Stripe calls.
export type RecordCustomer = Command<'RecordCustomer', { customerId: string }>;
export type RecordSubscription = Command<'RecordSubscription', { subscriptionId: string; priceId: string; tier: Tier }>;
export type RecordSubscriptionEnded = Command<'RecordSubscriptionEnded', { subscriptionId: string }>;
export type CloseBillingAccount = Command<'CloseBillingAccount'>;

// Stripe's webhooks, already verified and parsed; `tier` is looked up from the price by whoever maps them.
export type ApplySubscriptionUpdate = Command<
  'ApplySubscriptionUpdate',
  StripeMark & { subscriptionId: string; status: string; priceId: string | null; tier: Tier | null }
>;
/**
 * `graceEndsAt`: when a failure starts the grace period, the tenant is suspended then (ISO-8601, UTC, as the clock writes it).
 * `subscriptionId`: the subscription the invoice was issued for, null for a one-off invoice.
 */
export type ApplyInvoice = Command<'ApplyInvoice', StripeMark & { invoiceId: string; subscriptionId: string | null; paid: boolean; graceEndsAt: string }>;
/** `invoice.voided`: the invoice is cancelled, nobody owes it any more. */
export type ApplyInvoiceVoided = Command<'ApplyInvoiceVoided', StripeMark & { invoiceId: string }>;
export type ApplyCheckout = Command<'ApplyCheckout', StripeMark & { sessionId: string; subscriptionId: string; priceId: string; tier: Tier }>;

/** Asked on a schedule: has the grace period after a failed payment run out by `at`? */
export type EndGracePeriod = Command<'EndGracePeriod'>;

export type BillingCommand =
  | RecordCustomer
  | RecordSubscription
  | RecordSubscriptionEnded
  | CloseBillingAccount
  | ApplySubscriptionUpdate
  | ApplyInvoice
  | ApplyInvoiceVoided
  | ApplyCheckout
  | EndGracePeriod;
