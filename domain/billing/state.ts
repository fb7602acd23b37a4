import { unreachable } from '../shared/decider.ts';
import type { Tier } from '../tiers.ts';
import type { BillingEvent, InvoiceOrigin, StripeMark } from './events.ts';

export interface Subscription {
  readonly id: string;
  readonly priceId: string | null;
  readonly tier: Tier | null;
  readonly status: string;
}

/** A failed invoice not settled yet, and what it was issued for (whose end clears it). */
export interface UnpaidInvoice {
  readonly invoiceId: string;
  readonly origin: InvoiceOrigin;
}

export type PaymentStanding =
  | { readonly standing: 'good' }
  | {
      readonly standing: 'failing';
      /** The oldest failed invoice still unpaid (the one whose failure started the grace period, until it is settled). */
      readonly invoiceId: string;
      /** Every failed invoice not paid yet (the first one included); the standing is good again when none is left. */
      readonly unpaid: readonly UnpaidInvoice[];
      readonly graceEndsAt: string;
      readonly graceEnded: boolean;
    };

export interface OpenAccount {
  readonly status: 'open';
  readonly customerId: string;
  readonly subscription: Subscription | null;
  /** The newest subscription webhook applied, and the newest invoice webhook applied (of any invoice). */
  readonly subscriptionMark: StripeMark | null;
  readonly paymentMark: StripeMark | null;
  /**
   * The newest webhook applied of each of the last INVOICE_MARKS invoices, oldest first: invoice facts
   * are ordered per invoice, so a newer webhook of one invoice never hides an older one of another.
   */
  readonly invoiceMarks: readonly InvoiceMark[];
  /** The newest mark among invoices forgotten from `invoiceMarks`: a fact of an invoice not listed must be newer. */
  readonly invoiceFloor: StripeMark | null;
  /** The newest Checkout applied: Checkouts are ordered among themselves, not by the old subscription's updates. */
  readonly checkoutMark: StripeMark | null;
  readonly payment: PaymentStanding;
  /** The newest subscriptions that ended (cancelled by us, deleted at Stripe, replaced by Checkout): their late updates are ignored. */
  readonly endedSubscriptions: readonly string[];
  /** The newest invoices voided at Stripe: a void is final, so a late failure of one of them is ignored. */
  readonly voidedInvoices: readonly string[];
}

export interface InvoiceMark extends StripeMark {
  readonly invoiceId: string;
}

export type BillingState =
  | { readonly status: 'none' }
  | OpenAccount
  | { readonly status: 'closed'; readonly customerId: string };

export const initialBillingState = (): BillingState => ({ status: 'none' });

/** How many ended subscription ids an account remembers. */
export const ENDED_SUBSCRIPTIONS = 8;

const ended = (a: OpenAccount, subscriptionId: string | null): readonly string[] =>
  subscriptionId === null || a.endedSubscriptions.includes(subscriptionId)
    ? a.endedSubscriptions
    : [...a.endedSubscriptions, subscriptionId].slice(-ENDED_SUBSCRIPTIONS);

/** How many voided invoice ids an account remembers. */
export const VOIDED_INVOICES = 8;

/** Is `mark` after `than` in Stripe's order (created, then event id)? */
export const isNewer = (mark: StripeMark, than: StripeMark | null): boolean =>
  than === null || mark.created > than.created || (mark.created === than.created && mark.stripeEventId > than.stripeEventId);

const markOf = (data: StripeMark): StripeMark => ({ stripeEventId: data.stripeEventId, created: data.created });

/** The newer of a mark and the current one: a payment of a failed invoice is applied even when it arrives late. */
const newest = (data: StripeMark, current: StripeMark | null): StripeMark => (isNewer(data, current) ? markOf(data) : current!);

/** How many invoices' marks an account remembers. */
export const INVOICE_MARKS = 16;

/** Is an invoice webhook after the last one applied of the same invoice (or, for an invoice forgotten or never seen, after the floor)? */
export const isNewerForInvoice = (mark: StripeMark, a: Pick<OpenAccount, 'invoiceMarks' | 'invoiceFloor'>, invoiceId: string): boolean =>
  isNewer(mark, a.invoiceMarks.find((m) => m.invoiceId === invoiceId) ?? a.invoiceFloor);

/** `invoiceMarks` with `invoiceId`'s newest mark, in Stripe's order; the oldest beyond INVOICE_MARKS go to the floor. */
const withInvoiceMark = (a: OpenAccount, invoiceId: string, data: StripeMark): Pick<OpenAccount, 'invoiceMarks' | 'invoiceFloor'> => {
  const own = a.invoiceMarks.find((m) => m.invoiceId === invoiceId);
  const mark = own ? newest(data, own) : markOf(data);
  const marks = [...a.invoiceMarks.filter((m) => m.invoiceId !== invoiceId), { invoiceId, ...markOf(mark) }].sort((x, y) =>
    isNewer(x, y) ? 1 : isNewer(y, x) ? -1 : x.invoiceId < y.invoiceId ? -1 : 1,
  );
  const forgotten = marks.slice(0, Math.max(0, marks.length - INVOICE_MARKS));
  const invoiceFloor = forgotten.reduce<StripeMark | null>((floor, m) => newest(m, floor), a.invoiceFloor);
  return { invoiceMarks: marks.slice(forgotten.length), invoiceFloor: invoiceFloor === null ? null : markOf(invoiceFloor) };
};

const onOpen = (state: BillingState, change: (account: OpenAccount) => BillingState): BillingState =>
  state.status === 'open' ? change(state) : state;

/**
 * The standing once `settled` invoices are paid, voided or cleared: still failing (the grace period runs
 * on) while another failed invoice is unpaid, named by the oldest of them, so the grace period's end
 * never names an invoice already settled.
 */
const settle = (payment: PaymentStanding, standing: 'good' | 'failing', settled: (invoiceId: string) => boolean): PaymentStanding => {
  if (standing !== 'failing' || payment.standing !== 'failing') return { standing: 'good' };
  const unpaid = payment.unpaid.filter((u) => !settled(u.invoiceId));
  return { ...payment, unpaid, invoiceId: unpaid[0]?.invoiceId ?? payment.invoiceId };
};

export const evolveBilling = (state: BillingState, event: BillingEvent): BillingState => {
  switch (event.type) {
    case 'StripeCustomerCreated':
      return state.status === 'none'
        ? {
            status: 'open',
            customerId: event.data.customerId,
            subscription: null,
            subscriptionMark: null,
            paymentMark: null,
            invoiceMarks: [],
            invoiceFloor: null,
            checkoutMark: null,
            payment: { standing: 'good' },
            endedSubscriptions: [],
            voidedInvoices: [],
          }
        : state;
    case 'SubscriptionStarted':
    case 'SubscriptionMoved': {
      const { subscriptionId, priceId, tier } = event.data;
      return onOpen(state, (a) => ({ ...a, subscription: { id: subscriptionId, priceId, tier, status: a.subscription?.status ?? 'active' } }));
    }
    case 'SubscriptionEnded':
      return onOpen(state, (a) => ({
        ...a,
        subscription: a.subscription?.id === event.data.subscriptionId ? null : a.subscription,
        endedSubscriptions: ended(a, event.data.subscriptionId),
      }));
    case 'BillingAccountClosed':
      return state.status === 'open' ? { status: 'closed', customerId: state.customerId } : state;
    case 'StripeSubscriptionSynced': {
      const { subscriptionId, status, priceId, tier } = event.data;
      const over = status === 'canceled' || status === 'incomplete_expired';
      return onOpen(state, (a) => ({
        ...a,
        subscriptionMark: markOf(event.data),
        subscription: over ? null : { id: subscriptionId, priceId, tier, status },
        endedSubscriptions: over ? ended(a, subscriptionId) : a.endedSubscriptions,
      }));
    }
    case 'InvoicePaymentFailed': {
      const { invoiceId, graceEndsAt, origin } = event.data;
      return onOpen(state, (a) => ({
        ...a,
        paymentMark: newest(event.data, a.paymentMark),
        ...withInvoiceMark(a, invoiceId, event.data),
        payment:
          a.payment.standing === 'failing'
            ? { ...a.payment, unpaid: a.payment.unpaid.some((u) => u.invoiceId === invoiceId) ? a.payment.unpaid : [...a.payment.unpaid, { invoiceId, origin }] }
            : { standing: 'failing', invoiceId, unpaid: [{ invoiceId, origin }], graceEndsAt, graceEnded: false },
      }));
    }
    case 'InvoicePaid':
    case 'InvoiceVoided': {
      const { invoiceId, standing } = event.data;
      const voided = event.type === 'InvoiceVoided';
      return onOpen(state, (a) => ({
        ...a,
        paymentMark: newest(event.data, a.paymentMark),
        ...withInvoiceMark(a, invoiceId, event.data),
        payment: settle(a.payment, standing, (id) => id === invoiceId),
        voidedInvoices: voided && !a.voidedInvoices.includes(invoiceId) ? [...a.voidedInvoices, invoiceId].slice(-VOIDED_INVOICES) : a.voidedInvoices,
      }));
    }
    case 'PaymentFailureCleared': {
      const { invoiceIds, standing } = event.data;
      return onOpen(state, (a) => ({
        ...a,
        payment: settle(a.payment, standing, (id) => invoiceIds.includes(id)),
      }));
    }
    case 'CheckoutCompleted': {
      const { subscriptionId, priceId, tier, replaces } = event.data;
      const mark = markOf(event.data);
      return onOpen(state, (a) => ({
        ...a,
        // the new subscription's facts count from its Checkout on (the replaced one's updates are ignored as ended)
        subscriptionMark: mark,
        checkoutMark: mark,
        subscription: { id: subscriptionId, priceId, tier, status: 'active' },
        endedSubscriptions: ended(a, replaces),
      }));
    }
    case 'CheckoutSuperseded':
      // its subscription is cancelled: its late updates are ignored, as a replaced one's
      return onOpen(state, (a) => ({ ...a, endedSubscriptions: ended(a, event.data.subscriptionId) }));
    case 'GracePeriodEnded':
      return onOpen(state, (a) => (a.payment.standing === 'failing' ? { ...a, payment: { ...a.payment, graceEnded: true } } : a));
    default:
      return unreachable(event);
  }
};
