import { describe, expect, it } from 'vitest';
import { billedTier, billingDecider, planAccount } from '../../domain/billing/index.ts';
import type { BillingCommand, BillingEvent } from '../../domain/billing/index.ts';
import { fold } from '../../domain/shared/decider.ts';
import { spec } from '../support/decider-spec.ts';

const at = '2026-12-01T10:00:00.000Z';
const given = spec(billingDecider).given;
const prices = { pro: 'price_pro', enterprise: 'price_ent' } as const;

const customer: BillingEvent = { type: 'StripeCustomerCreated', data: { customerId: 'cus_1', at } };
const started: BillingEvent = { type: 'SubscriptionStarted', data: { subscriptionId: 'sub_1', priceId: 'price_pro', tier: 'pro', at } };
const T0 = 1_780_000_000;
const failed = (created: number, id = `evt_f${created}`): BillingCommand => ({
  type: 'ApplyInvoice', stripeEventId: id, created, invoiceId: 'in_1', subscriptionId: 'sub_1', paid: false, graceEndsAt: new Date((created + 3600) * 1000).toISOString(), at,
});
const paid = (created: number, id = `evt_p${created}`): BillingCommand => ({
  type: 'ApplyInvoice', stripeEventId: id, created, invoiceId: 'in_1', subscriptionId: 'sub_1', paid: true, graceEndsAt: new Date((created + 3600) * 1000).toISOString(), at,
});
const subUpdate = (created: number, priceId: string, tier: 'pro' | 'enterprise' | null, status = 'active', id = `evt_s${created}`): BillingCommand => ({
  type: 'ApplySubscriptionUpdate', stripeEventId: id, created, subscriptionId: 'sub_1', status, priceId, tier, at,
});

/** Decides each command on the state the previous ones left, as the shell does one after another. */
const run = (history: readonly BillingEvent[], commands: readonly BillingCommand[]) => {
  let events = [...history];
  for (const command of commands) events = [...events, ...billingDecider.decide(command, fold(billingDecider, events))];
  return fold(billingDecider, events);
};

describe('billing outcomes of our own Stripe calls', () => {
  it('records the customer once; a repeat (a replayed event) decides nothing', () => {
    given([]).when({ type: 'RecordCustomer', customerId: 'cus_1', at }).then([customer]);
    given([customer]).when({ type: 'RecordCustomer', customerId: 'cus_2', at }).thenNothing();
  });
  it('starts, then moves, the subscription; the same price again is nothing', () => {
    given([customer]).when({ type: 'RecordSubscription', subscriptionId: 'sub_1', priceId: 'price_pro', tier: 'pro', at }).then([started]);
    given([customer, started]).when({ type: 'RecordSubscription', subscriptionId: 'sub_1', priceId: 'price_pro', tier: 'pro', at }).thenNothing();
    given([customer, started])
      .when({ type: 'RecordSubscription', subscriptionId: 'sub_1', priceId: 'price_ent', tier: 'enterprise', at })
      .then([{ type: 'SubscriptionMoved', data: { subscriptionId: 'sub_1', priceId: 'price_ent', tier: 'enterprise', at } }]);
  });
  it('refuses a subscription before the customer, and accepts nothing once closed', () => {
    given([]).when({ type: 'RecordSubscription', subscriptionId: 'sub_1', priceId: 'p', tier: 'pro', at }).thenThrows('billing_account_missing');
    const closed: BillingEvent = { type: 'BillingAccountClosed', data: { at } };
    given([customer, closed]).when(failed(T0)).thenNothing();
    given([customer, closed]).when({ type: 'CloseBillingAccount', at }).thenNothing();
  });
});

describe('webhooks: repeated and out of order', () => {
  it('a payment failure starts the grace period; its end is decided only once it is over', () => {
    const graceEndsAt = new Date((T0 + 3600) * 1000).toISOString();
    given([customer, started]).when(failed(T0)).then([
      { type: 'InvoicePaymentFailed', data: { stripeEventId: `evt_f${T0}`, created: T0, invoiceId: 'in_1', graceEndsAt, origin: { kind: 'subscription', subscriptionId: 'sub_1' }, at } },
    ]);
    const failing = [customer, started, ...billingDecider.decide(failed(T0), fold(billingDecider, [customer, started]))];
    given(failing).when({ type: 'EndGracePeriod', at: new Date((T0 + 3599) * 1000).toISOString() }).thenNothing();
    const end = new Date((T0 + 3600) * 1000).toISOString();
    const ended = given(failing).when({ type: 'EndGracePeriod', at: end }).then([{ type: 'GracePeriodEnded', data: { invoiceId: 'in_1', at: end } }]);
    expect(billingDecider.decide({ type: 'EndGracePeriod', at: end }, ended)).toEqual([]);
  });

  it('every order and repetition of the same webhooks ends in the same state', () => {
    const hooks = [failed(T0), subUpdate(T0 + 1, 'price_ent', 'enterprise'), paid(T0 + 5), subUpdate(T0 + 9, 'price_pro', 'pro', 'past_due')];
    const inOrder = run([customer, started], hooks);
    const orders = [
      [...hooks].reverse(),
      [hooks[2]!, hooks[0]!, hooks[3]!, hooks[1]!],
      [...hooks, ...hooks, ...[...hooks].reverse()],
    ];
    for (const order of orders) expect(run([customer, started], order)).toEqual(inOrder);
    expect(inOrder).toMatchObject({ payment: { standing: 'good' }, subscription: { priceId: 'price_pro', tier: 'pro', status: 'past_due' } });
  });

  it('a failure older than the payment already applied changes nothing', () => {
    given([customer, started]).when(paid(T0 + 5)).then([{ type: 'InvoicePaid', data: { stripeEventId: `evt_p${T0 + 5}`, created: T0 + 5, invoiceId: 'in_1', standing: 'good', at } }]);
    const afterPaid = [customer, started, { type: 'InvoicePaid', data: { stripeEventId: `evt_p${T0 + 5}`, created: T0 + 5, invoiceId: 'in_1', standing: 'good', at } } as BillingEvent];
    given(afterPaid).when(failed(T0)).thenNothing();
    given(afterPaid).when(paid(T0 + 5)).thenNothing();
  });

  it('a deleted subscription puts the tenant on free; updates of another subscription are ignored', () => {
    given([customer, started]).when(subUpdate(T0, 'price_pro', 'pro', 'canceled')).then([
      { type: 'StripeSubscriptionSynced', data: { stripeEventId: `evt_s${T0}`, created: T0, subscriptionId: 'sub_1', status: 'canceled', priceId: 'price_pro', tier: 'free', at } },
    ]);
    given([customer, started])
      .when({ type: 'ApplySubscriptionUpdate', stripeEventId: 'evt_o', created: T0, subscriptionId: 'sub_other', status: 'active', priceId: 'price_ent', tier: 'enterprise', at })
      .thenNothing();
  });

  it('a late update of a subscription that has ended does not bring it back (nor its tier)', () => {
    const ended: BillingEvent = { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } };
    given([customer, started, ended]).when(subUpdate(T0 + 1, 'price_ent', 'enterprise')).thenNothing();
    // Stripe's deletion first, then the older update: in either order the account has no subscription
    const hooks = [subUpdate(T0 + 2, 'price_ent', 'enterprise', 'canceled'), subUpdate(T0 + 1, 'price_ent', 'enterprise')];
    expect(run([customer, started, ended], hooks)).toMatchObject({ subscription: null });
    expect(run([customer, started], hooks)).toMatchObject({ subscription: null });
    expect(run([customer, started], [...hooks].reverse())).toMatchObject({ subscription: null });
    // the subscription Checkout replaced is cancelled: a late update of it is nothing either
    const checkout: BillingEvent = {
      type: 'CheckoutCompleted',
      data: { stripeEventId: 'evt_c', created: T0, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', replaces: 'sub_1', at },
    };
    const sub2Ended: BillingEvent = { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_2', at } };
    given([customer, started, checkout, sub2Ended]).when(subUpdate(T0 + 1, 'price_pro', 'pro')).thenNothing();
  });

  it('Checkout replaces the current subscription', () => {
    given([customer, started])
      .when({ type: 'ApplyCheckout', stripeEventId: 'evt_c', created: T0, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', at })
      .then([{ type: 'CheckoutCompleted', data: { stripeEventId: 'evt_c', created: T0, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', replaces: 'sub_1', at } }]);
  });
});

describe('a payment failure clears only when that invoice is paid (or its subscription goes)', () => {
  const invoiceCommand = (invoiceId: string, paidIt: boolean, created: number, subscriptionId: string | null = 'sub_1'): BillingCommand => ({
    type: 'ApplyInvoice', stripeEventId: `evt_${invoiceId}_${paidIt ? 'p' : 'f'}${created}`, created, invoiceId, subscriptionId, paid: paidIt,
    graceEndsAt: new Date((created + 3600) * 1000).toISOString(), at,
  });
  const failA = invoiceCommand('in_A', false, T0);
  const graceOver = { type: 'EndGracePeriod', at: new Date((T0 + 3600) * 1000).toISOString() } as const;

  it('another invoice paid (a one-off, a proration) leaves the failure standing: the grace period still ends', () => {
    const failing = run([customer, started], [failA]);
    const paidB = given([customer, started, ...billingDecider.decide(failA, fold(billingDecider, [customer, started]))]).when(invoiceCommand('in_B', true, T0 + 10));
    paidB.then([{ type: 'InvoicePaid', data: { stripeEventId: `evt_in_B_p${T0 + 10}`, created: T0 + 10, invoiceId: 'in_B', standing: 'failing', at } }]);
    expect(failing).toMatchObject({ payment: { standing: 'failing', invoiceId: 'in_A', unpaid: [{ invoiceId: 'in_A' }] } });
    const afterB = run([customer, started], [failA, invoiceCommand('in_B', true, T0 + 10)]);
    expect(afterB).toMatchObject({ payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_A' }] } });
    expect(billingDecider.decide(graceOver, afterB)).toEqual([{ type: 'GracePeriodEnded', data: { invoiceId: 'in_A', at: graceOver.at } }]);
    expect(run([customer, started], [failA, invoiceCommand('in_B', true, T0 + 10), invoiceCommand('in_A', true, T0 + 20)])).toMatchObject({ payment: { standing: 'good' } });
  });

  it('two failed invoices: the standing is good only once both are paid', () => {
    const history = [failA, invoiceCommand('in_B', false, T0 + 5)];
    expect(run([customer, started], [...history, invoiceCommand('in_A', true, T0 + 10)])).toMatchObject({ payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_B' }] } });
    expect(run([customer, started], [...history, invoiceCommand('in_A', true, T0 + 10), invoiceCommand('in_B', true, T0 + 11)])).toMatchObject({ payment: { standing: 'good' } });
  });

  it('the first failed invoice paid, another still unpaid: the grace period runs on and its end names the unpaid one', () => {
    const afterA = run([customer, started], [failA, invoiceCommand('in_B', false, T0 + 5), invoiceCommand('in_A', true, T0 + 10)]);
    expect(afterA).toMatchObject({ payment: { standing: 'failing', invoiceId: 'in_B', graceEndsAt: graceOver.at } });
    expect(billingDecider.decide(graceOver, afterA)).toEqual([{ type: 'GracePeriodEnded', data: { invoiceId: 'in_B', at: graceOver.at } }]);
    // the subscription's end clears its own invoice; the one-off it leaves unpaid is the one named
    const end: BillingCommand = { type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at };
    const oneOffLeft = run([customer, started], [failA, invoiceCommand('in_X', false, T0 + 1, null), end]);
    expect(billingDecider.decide(graceOver, oneOffLeft)).toEqual([{ type: 'GracePeriodEnded', data: { invoiceId: 'in_X', at: graceOver.at } }]);
  });

  it('a failed invoice paid late (after a newer webhook of another invoice) still clears it; a repeat is nothing', () => {
    const hooks = [failA, invoiceCommand('in_B', true, T0 + 10), invoiceCommand('in_A', true, T0 + 5)];
    const state = run([customer, started], hooks);
    expect(state).toMatchObject({ payment: { standing: 'good' }, paymentMark: { created: T0 + 10 } });
    expect(billingDecider.decide(invoiceCommand('in_A', true, T0 + 5), state)).toEqual([]);
  });

  it('a failure of one invoice arriving after a newer payment of another still starts the grace period (ordered per invoice)', () => {
    const failB = invoiceCommand('in_B', false, T0 + 4);
    const paidA = invoiceCommand('in_A', true, T0 + 5);
    const late = run([customer, started], [paidA, failB]);
    expect(late).toMatchObject({ payment: { standing: 'failing', invoiceId: 'in_B', graceEndsAt: new Date((T0 + 4 + 3600) * 1000).toISOString() } });
    expect(run([customer, started], [failB, paidA])).toEqual(late);
    // still ordered within one invoice: B's older failure after B's payment is nothing
    const paidB = invoiceCommand('in_B', true, T0 + 6);
    expect(billingDecider.decide(failB, run([customer, started], [paidB]))).toEqual([]);
    expect(run([customer, started], [paidA, paidB, failB])).toMatchObject({ payment: { standing: 'good' } });
  });

  it('invoice marks are bounded: the oldest are forgotten into a floor that still orders their late webhooks', () => {
    const paidMany = Array.from({ length: 20 }, (_, i) => invoiceCommand(`in_${String(i).padStart(2, '0')}`, true, T0 + 10 + i));
    const state = run([customer, started], paidMany);
    expect(state).toMatchObject({ invoiceFloor: { created: T0 + 13 } });
    expect(state.status === 'open' ? state.invoiceMarks : []).toHaveLength(16);
    // a late failure of a forgotten invoice, older than the floor: nothing; a newer one of an unknown invoice counts
    expect(billingDecider.decide(invoiceCommand('in_00', false, T0 + 1), state)).toEqual([]);
    expect(billingDecider.decide(invoiceCommand('in_new', false, T0 + 14), state)).toMatchObject([{ type: 'InvoicePaymentFailed' }]);
  });

  it('the subscription ending, or a Checkout replacing it, clears the failure', () => {
    const failing = [customer, started, ...billingDecider.decide(failA, fold(billingDecider, [customer, started]))];
    given(failing).when({ type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at }).then([
      { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } },
      { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A'], cause: 'subscription_ended', standing: 'good', at } },
    ]);
    expect(run(failing, [subUpdate(T0 + 1, 'price_pro', 'pro', 'canceled')])).toMatchObject({ payment: { standing: 'good' }, subscription: null });
    const checkout: BillingCommand = { type: 'ApplyCheckout', stripeEventId: 'evt_c', created: T0 + 1, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', at };
    given(failing).when(checkout).then([
      { type: 'CheckoutCompleted', data: { stripeEventId: 'evt_c', created: T0 + 1, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', replaces: 'sub_1', at } },
      { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A'], cause: 'subscription_replaced', standing: 'good', at } },
    ]);
    // in good standing, ending a subscription records no clearing
    given([customer, started]).when({ type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at }).then([{ type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } }]);
  });

  it('a one-off invoice failed: the subscription ending clears only its own invoices, the tenant stays failing until the one-off is paid', () => {
    const failOneOff = invoiceCommand('in_X', false, T0 + 1, null);
    const failing = run([customer, started], [failA, failOneOff]);
    const end: BillingCommand = { type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at };
    expect(billingDecider.decide(end, failing)).toEqual([
      { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } },
      { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A'], cause: 'subscription_ended', standing: 'failing', at } },
    ]);
    const ended = run([customer, started], [failA, failOneOff, end]);
    expect(ended).toMatchObject({ subscription: null, payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_X', origin: { kind: 'one_off' } }] } });
    // the grace period still ends: the tenant is suspended for the one-off
    expect(billingDecider.decide(graceOver, ended)).toMatchObject([{ type: 'GracePeriodEnded' }]);
    const suspended = run([customer, started], [failA, failOneOff, end, graceOver]);
    expect(billingDecider.decide(invoiceCommand('in_X', true, T0 + 4000, null), suspended)).toEqual([
      { type: 'InvoicePaid', data: { stripeEventId: `evt_in_X_p${T0 + 4000}`, created: T0 + 4000, invoiceId: 'in_X', standing: 'good', at } },
    ]);
  });

  it('only a one-off failed: the subscription deleted at Stripe, ended by us or replaced by Checkout clears nothing', () => {
    const failing = run([customer, started], [invoiceCommand('in_X', false, T0, null)]);
    expect(billingDecider.decide({ type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at }, failing)).toEqual([{ type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } }]);
    expect(billingDecider.decide(subUpdate(T0 + 1, 'price_pro', 'pro', 'canceled'), failing)).toMatchObject([{ type: 'StripeSubscriptionSynced' }]);
    expect(run([customer, started], [invoiceCommand('in_X', false, T0, null), subUpdate(T0 + 1, 'price_pro', 'pro', 'canceled')])).toMatchObject({
      subscription: null,
      payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_X' }] },
    });
    const checkout: BillingCommand = { type: 'ApplyCheckout', stripeEventId: 'evt_c', created: T0 + 1, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', at };
    expect(billingDecider.decide(checkout, failing)).toMatchObject([{ type: 'CheckoutCompleted' }]);
  });

  it('a failed invoice of another subscription (the one a Checkout replaced) is not cleared when the current one ends', () => {
    const checkout: BillingCommand = { type: 'ApplyCheckout', stripeEventId: 'evt_c', created: T0, sessionId: 'cs_1', subscriptionId: 'sub_2', priceId: 'price_ent', tier: 'enterprise', at };
    // the replaced subscription's last invoice fails after the Checkout, then the new subscription fails too
    const hooks = [checkout, invoiceCommand('in_A', false, T0 + 1, 'sub_1'), invoiceCommand('in_B', false, T0 + 2, 'sub_2')];
    const failing = run([customer, started], hooks);
    const deleted: BillingCommand = { type: 'ApplySubscriptionUpdate', stripeEventId: 'evt_d', created: T0 + 3, subscriptionId: 'sub_2', status: 'canceled', priceId: 'price_ent', tier: 'enterprise', at };
    expect(billingDecider.decide(deleted, failing)).toMatchObject([
      { type: 'StripeSubscriptionSynced' },
      { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_B'], cause: 'subscription_ended', standing: 'failing' } },
    ]);
    expect(run([customer, started], [...hooks, deleted])).toMatchObject({ payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_A' }] } });
  });

  it('a failure recorded before invoices carried their subscription (v1) is still cleared by a subscription ending, as it was', () => {
    const failedV1: BillingEvent = {
      type: 'InvoicePaymentFailed',
      data: { stripeEventId: 'evt_1', created: T0, invoiceId: 'in_A', graceEndsAt: new Date((T0 + 3600) * 1000).toISOString(), origin: { kind: 'unrecorded' }, at },
    };
    const history = [customer, started, failedV1, ...billingDecider.decide(invoiceCommand('in_X', false, T0 + 1, null), fold(billingDecider, [customer, started, failedV1]))];
    given(history).when({ type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at }).then([
      { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } },
      { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A'], cause: 'subscription_ended', standing: 'failing', at } },
    ]);
    // PaymentFailureCleared v1 upcasts to standing 'good' (see the codec test): it cleared every failure
    const clearedV1: BillingEvent = { type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A'], cause: 'subscription_ended', standing: 'good', at } };
    expect(fold(billingDecider, [...history, clearedV1])).toMatchObject({ payment: { standing: 'good' } });
  });

  it('a history recorded before invoices were tracked one by one reads as it was decided: any paid invoice cleared', () => {
    const failedA: BillingEvent = {
      type: 'InvoicePaymentFailed',
      data: { stripeEventId: 'evt_1', created: T0, invoiceId: 'in_A', graceEndsAt: new Date((T0 + 3600) * 1000).toISOString(), origin: { kind: 'unrecorded' }, at },
    };
    // InvoicePaid v1 upcasts to standing 'good' (see the codec test)
    const paidBv1: BillingEvent = { type: 'InvoicePaid', data: { stripeEventId: 'evt_2', created: T0 + 1, invoiceId: 'in_B', standing: 'good', at } };
    expect(fold(billingDecider, [customer, started, failedA, paidBv1])).toMatchObject({ payment: { standing: 'good' } });
  });
});

describe('invoice.voided: nobody owes the invoice, so its failure clears as a payment would', () => {
  const invoiceCommand = (invoiceId: string, paidIt: boolean, created: number): BillingCommand => ({
    type: 'ApplyInvoice', stripeEventId: `evt_${invoiceId}_${paidIt ? 'p' : 'f'}${created}`, created, invoiceId, subscriptionId: 'sub_1', paid: paidIt,
    graceEndsAt: new Date((created + 3600) * 1000).toISOString(), at,
  });
  const voided = (invoiceId: string, created: number, id = `evt_${invoiceId}_v${created}`): BillingCommand => ({ type: 'ApplyInvoiceVoided', stripeEventId: id, created, invoiceId, at });
  const failA = invoiceCommand('in_A', false, T0);
  const graceOver = { type: 'EndGracePeriod', at: new Date((T0 + 3600) * 1000).toISOString() } as const;

  it('A fails, A is voided: the standing is good and the grace period ends in nothing; a repeat is nothing', () => {
    const failing = run([customer, started], [failA]);
    expect(billingDecider.decide(voided('in_A', T0 + 5), failing)).toEqual([
      { type: 'InvoiceVoided', data: { stripeEventId: `evt_in_A_v${T0 + 5}`, created: T0 + 5, invoiceId: 'in_A', standing: 'good', at } },
    ]);
    const after = run([customer, started], [failA, voided('in_A', T0 + 5)]);
    expect(after).toMatchObject({ payment: { standing: 'good' } });
    expect(billingDecider.decide(graceOver, after)).toEqual([]);
    expect(billingDecider.decide(voided('in_A', T0 + 5), after)).toEqual([]);
  });

  it('voided after the grace period ended: good standing again (the consumer reinstates on it)', () => {
    const ended = run([customer, started], [failA, graceOver]);
    expect(ended).toMatchObject({ payment: { standing: 'failing', graceEnded: true } });
    expect(billingDecider.decide(voided('in_A', T0 + 4000), ended)).toMatchObject([{ type: 'InvoiceVoided', data: { standing: 'good' } }]);
  });

  it('another failed invoice still unpaid keeps the failure; a void of another invoice clears nothing', () => {
    const two = [failA, invoiceCommand('in_B', false, T0 + 1)];
    expect(run([customer, started], [...two, voided('in_A', T0 + 2)])).toMatchObject({ payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_B' }] } });
    const otherVoided = run([customer, started], [failA, voided('in_C', T0 + 2)]);
    expect(otherVoided).toMatchObject({ payment: { standing: 'failing', unpaid: [{ invoiceId: 'in_A' }] } });
    expect(billingDecider.decide(graceOver, otherVoided)).toEqual([{ type: 'GracePeriodEnded', data: { invoiceId: 'in_A', at: graceOver.at } }]);
  });

  it('out of order: a void counts after a newer webhook of another invoice; a failure delivered after its void is ignored', () => {
    const late = run([customer, started], [failA, invoiceCommand('in_B', true, T0 + 10), voided('in_A', T0 + 5)]);
    expect(late).toMatchObject({ payment: { standing: 'good' }, paymentMark: { created: T0 + 10 } });
    // the void first (even in the same second, with an event id that sorts first), then the failure Stripe sent before it
    const voidFirst = run([customer, started], [voided('in_A', T0, 'evt_0'), failA]);
    expect(voidFirst).toMatchObject({ payment: { standing: 'good' }, voidedInvoices: ['in_A'] });
    expect(billingDecider.decide(graceOver, voidFirst)).toEqual([]);
  });
});

describe('Checkout and the old subscription’s updates', () => {
  const checkout = (created: number, subscriptionId = 'sub_2', id = `evt_c${created}`): BillingCommand => ({
    type: 'ApplyCheckout', stripeEventId: id, created, sessionId: `cs_${subscriptionId}`, subscriptionId, priceId: 'price_ent', tier: 'enterprise', at,
  });
  it('a Checkout delivered after a later update of the subscription it replaces still replaces it', () => {
    // Stripe retried the checkout webhook; meanwhile the old subscription renewed (a newer update)
    const state = run([customer, started], [subUpdate(T0 + 5, 'price_pro', 'pro'), checkout(T0 + 3)]);
    expect(state).toMatchObject({ subscription: { id: 'sub_2', tier: 'enterprise' }, endedSubscriptions: ['sub_1'] });
    expect(run([customer, started], [checkout(T0 + 3), subUpdate(T0 + 5, 'price_pro', 'pro')])).toEqual(state);
  });
  it('of two Checkouts the later one wins, in either order, and each applies once', () => {
    const hooks = [checkout(T0 + 1, 'sub_2'), checkout(T0 + 2, 'sub_3')];
    const inOrder = run([customer, started], hooks);
    expect(inOrder).toMatchObject({ subscription: { id: 'sub_3' } });
    expect(run([customer, started], [...hooks].reverse())).toMatchObject({ subscription: { id: 'sub_3' } });
    expect(run([customer, started], [...hooks, ...hooks])).toEqual(inOrder);
  });

  /** Every subscription the account's history has the worker cancel: the ones Checkouts replaced and the ones they superseded. */
  const cancelled = (commands: readonly BillingCommand[]) => {
    let events: BillingEvent[] = [customer, started];
    for (const command of commands) events = [...events, ...billingDecider.decide(command, fold(billingDecider, events))];
    return events.flatMap((e) => (e.type === 'CheckoutCompleted' && e.data.replaces ? [e.data.replaces] : e.type === 'CheckoutSuperseded' ? [e.data.subscriptionId] : [])).sort();
  };
  it('of two Checkouts, the earlier one\'s subscription is cancelled in either order: the customer never pays two', () => {
    const hooks = [checkout(T0 + 1, 'sub_2'), checkout(T0 + 2, 'sub_3')];
    expect(cancelled(hooks)).toEqual(['sub_1', 'sub_2']);
    // the later Checkout's webhook first: the earlier one's completion, arriving after, ends its own subscription
    expect(cancelled([...hooks].reverse())).toEqual(['sub_1', 'sub_2']);
    expect(billingDecider.decide(hooks[0]!, run([customer, started], [hooks[1]!]))).toEqual([
      { type: 'CheckoutSuperseded', data: { stripeEventId: `evt_c${T0 + 1}`, created: T0 + 1, sessionId: 'cs_sub_2', subscriptionId: 'sub_2', at } },
    ]);
    // both orders end in the same state, and a repeat (any order) cancels nothing more
    expect(run([customer, started], [...hooks].reverse())).toEqual(run([customer, started], hooks));
    expect(cancelled([...[...hooks].reverse(), ...hooks, ...[...hooks].reverse()])).toEqual(['sub_1', 'sub_2']);
    // a late update of the superseded subscription does not bring it back
    const lateUpdate: BillingCommand = { type: 'ApplySubscriptionUpdate', stripeEventId: 'evt_u', created: T0 + 9, subscriptionId: 'sub_2', status: 'active', priceId: 'price_ent', tier: 'enterprise', at };
    expect(billingDecider.decide(lateUpdate, run([customer, started], [...hooks].reverse()))).toEqual([]);
  });
});

describe('planAccount', () => {
  const open = fold(billingDecider, [customer, started]);
  it('creates the customer first, then subscribes to the tier price', () => {
    expect(planAccount({ kind: 'created', tier: 'pro' }, fold(billingDecider, []), prices)).toEqual({ kind: 'create_customer' });
    expect(planAccount({ kind: 'created', tier: 'pro' }, fold(billingDecider, [customer]), prices)).toEqual({ kind: 'create_subscription', priceId: 'price_pro', tier: 'pro' });
    expect(planAccount({ kind: 'created', tier: 'free' }, fold(billingDecider, [customer]), prices)).toEqual({ kind: 'done' });
  });
  it('moves, cancels for a tier without a price, or is done', () => {
    expect(planAccount({ kind: 'tier', tier: 'enterprise' }, open, prices)).toEqual({ kind: 'move_subscription', subscriptionId: 'sub_1', priceId: 'price_ent', tier: 'enterprise' });
    expect(planAccount({ kind: 'tier', tier: 'free' }, open, prices)).toEqual({ kind: 'cancel_subscription', subscriptionId: 'sub_1' });
    expect(planAccount({ kind: 'tier', tier: 'pro' }, open, prices)).toEqual({ kind: 'done' });
  });
  it('erasure with no customer recorded recovers the one an unrecorded create may have made (then deletes it as any other)', () => {
    expect(planAccount({ kind: 'erased' }, fold(billingDecider, []), prices)).toEqual({ kind: 'recover_customer' });
  });
  it('erasure cancels, then deletes the customer; a closed account is done', () => {
    expect(planAccount({ kind: 'erased' }, open, prices)).toEqual({ kind: 'cancel_subscription', subscriptionId: 'sub_1' });
    expect(planAccount({ kind: 'erased' }, fold(billingDecider, [customer]), prices)).toEqual({ kind: 'delete_customer', customerId: 'cus_1' });
    const closed = fold(billingDecider, [customer, { type: 'BillingAccountClosed', data: { at } }]);
    expect(planAccount({ kind: 'tier', tier: 'pro' }, closed, prices)).toEqual({ kind: 'done' });
  });
});

describe('billedTier: the tier the customer pays for, applied at a reinstatement', () => {
  const ended: BillingEvent = { type: 'SubscriptionEnded', data: { subscriptionId: 'sub_1', at } };
  it('is the live subscription\'s tier, whatever the tenant is on', () => {
    expect(billedTier(run([customer, started], [subUpdate(T0, 'price_ent', 'enterprise')]), 'pro', prices)).toBe('enterprise');
    expect(billedTier(fold(billingDecider, [customer, started]), 'pro', prices)).toBe('pro');
  });
  it('is nothing for a price that is none of ours, no account, or an account that never had a subscription', () => {
    expect(billedTier(run([customer, started], [subUpdate(T0, 'price_other', null)]), 'pro', prices)).toBeNull();
    expect(billedTier(fold(billingDecider, []), 'pro', prices)).toBeNull();
    expect(billedTier(fold(billingDecider, [customer]), 'pro', prices)).toBeNull();
  });
  it('is free once the subscription ended while the tenant is on a priced tier; a tier without a price it was moved to stays', () => {
    expect(billedTier(run([customer, started], [subUpdate(T0, 'price_pro', 'pro', 'canceled')]), 'pro', prices)).toBe('free');
    expect(billedTier(fold(billingDecider, [customer, started, ended]), 'pro', { enterprise: 'price_ent' })).toBeNull();
  });
});
