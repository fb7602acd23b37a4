import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_SUSPENSION_REASON } from '../../domain/billing/index.ts';
import type { StripeObject } from '../doubles/stripe.ts';
import { stripeSignature } from '../doubles/stripe.ts';
import { postRaw } from '../../adapters/channels/doubles/loopback.ts';
import { ok } from '../http/support/client.ts';
import { eventually, PRICES, startBillingHarness, WEBHOOK_SECRET } from './support.ts';
import type { BillingHarness } from './support.ts';

const GRACE_SECONDS = 3;
const now = () => Math.floor(Date.now() / 1000);

describe('billing with Stripe (the double, the real stripe client, PostgreSQL, HTTP)', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness({ env: { BILLING_GRACE_SECONDS: String(GRACE_SECONDS) } });
  }, 60_000);
  afterAll(() => h?.close());

  const subscriptionOf = async (tenantId: string) => {
    const customer = await h.customerOf(tenantId);
    // recorded on the billing stream too, not only made at Stripe
    await eventually(`the subscription of ${tenantId} recorded`, async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? true : undefined;
    });
    return eventually(`a subscription of ${tenantId}`, () => [...h.stripe.subscriptions.values()].find((s) => s.customer === customer && s.status !== 'canceled'));
  };
  /** An invoice as the double's API version sends it: a subscription's names it under `parent`; a one-off (null) has no parent. */
  const invoice = (customer: string, subscription: string | null): StripeObject => ({
    id: `in_${Math.random().toString(36).slice(2)}`,
    object: 'invoice',
    customer,
    parent: subscription === null ? null : { type: 'subscription_details', quote_details: null, subscription_details: { subscription, metadata: {} } },
    status: 'open',
  });
  const suspendedByBilling = (tenantId: string) =>
    eventually(`${tenantId} suspended after the grace period`, async () => ((await h.tenantView(tenantId)).status === 'suspended' ? true : undefined), 20_000);
  const reinstated = (tenantId: string, what: string) =>
    eventually(what, async () => ((await h.tenantView(tenantId)).status === 'active' ? true : undefined));
  const clearing = async (tenantId: string) => (await h.billingEvents(tenantId)).find((e) => e.type === 'PaymentFailureCleared');

  it('a tenant created on a priced tier gets one Stripe customer (name, email, tenant id) and a subscription to that price', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await subscriptionOf(tenantId);
    expect(h.stripe.priceOf(sub)).toBe(PRICES.pro);
    const customers = h.stripe.customersOf(tenantId);
    expect(customers).toHaveLength(1);
    expect(customers[0]).toMatchObject({ name: 'Acme Billing', email: 'billing@acme.example', metadata: { tenantId } });
    const types = (await h.billingEvents(tenantId)).map((e) => e.type);
    expect(types).toEqual(['StripeCustomerCreated', 'SubscriptionStarted']);
    // every POST carried an idempotency key
    expect(h.stripe.calls.filter((c) => c.method === 'POST' && c.idempotencyKey === null && !c.path.includes('sessions'))).toEqual([]);
  });

  it('a tier change moves the subscription to the new price; a free tenant (no price) has a customer and no subscription', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await subscriptionOf(tenantId);
    ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'enterprise' }), 200);
    await eventually('the subscription on the enterprise price', () => (h.stripe.priceOf(h.stripe.subscriptions.get(sub.id)!) === PRICES.enterprise ? true : undefined));
    const free = await h.tenant('free');
    const customer = await h.customerOf(free.tenantId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...h.stripe.subscriptions.values()].filter((s) => s.customer === customer)).toEqual([]);
  });

  it('1,000 messages: the messages meter at Stripe equals the usage read model, and reconciliation finds no difference', async () => {
    const { tenantId, me } = await h.tenant('enterprise');
    const customer = await h.customerOf(tenantId);
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'metered' }), 201);
    const total = 1_000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const i = next++;
          ok(await me.post(`/conversations/${conversationId}/messages`, { text: `message ${i}` }), 201);
        }
      }),
    );
    await eventually('1,000 messages metered', () => (h.stripe.usage(customer, 'openclaw_messages') >= total ? true : undefined), 120_000);
    const day = new Date().toISOString().slice(0, 10);
    const result = await eventually('the read model and the reports agreeing', async () => {
      const r = await h.billing!.reconcile();
      return r.differences.some((d) => d.tenantId === tenantId) ? undefined : r;
    });
    const used = await h.api.platform.reads.usageCounts(tenantId as never, day);
    expect(used.messagesToday).toBe(total);
    expect(h.stripe.usage(customer, 'openclaw_messages')).toBe(total);
    expect(result.differences.filter((d) => d.tenantId === tenantId)).toEqual([]);
  }, 180_000);

  it('knight-minutes: a knight that ran 2.5 minutes is billed 3, once, even after its KnightFailed repeats the end; the read model agrees', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const stream = `knight-${tenantId}.k-metered`;
    const start = Date.now() - 10 * 60_000;
    const at = (ms: number) => new Date(start + ms).toISOString();
    const meta = { tenantId, actor: 'saga', correlationId: randomUUID(), causationId: null };
    const events = await h.api.storage.codec.encode(
      'knight',
      stream,
      [
        { id: randomUUID(), event: { type: 'KnightProvisioned', data: { vmId: 'vm-1', url: null, at: at(0) } } },
        { id: randomUUID(), event: { type: 'KnightTerminated', data: { at: at(150_000) } } },
        { id: randomUUID(), event: { type: 'KnightFailed', data: { stage: 'vm_lost', reason: 'gone', at: at(300_000) } } },
      ],
      meta,
    );
    await h.api.storage.store.append(stream, events, 'no_stream');
    await eventually('knight-minutes metered', () => (h.stripe.usage(customer, 'openclaw_knight_minutes') > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.stripe.usage(customer, 'openclaw_knight_minutes')).toBe(3);
    const day = at(150_000).slice(0, 10);
    const result = await eventually('the read model and the reports agreeing', async () => {
      const r = await h.billing!.reconcile();
      return r.differences.some((d) => d.tenantId === tenantId) ? undefined : r;
    });
    expect(result.differences.filter((d) => d.tenantId === tenantId && d.day === day)).toEqual([]);
  });

  it('Stripe answering 503 and 429: billing catches up later, and the tenant never waits on it', async () => {
    // each failed call is retried with backoff (1 s, 2 s, 4 s…): three failures cost about 7 s
    h.stripe.failNext(2, 503);
    h.stripe.failNext(1, 429);
    const started = Date.now();
    const { tenantId, me } = await h.tenant('pro');
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'while Stripe is down' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'hello' }), 201);
    expect(Date.now() - started).toBeLessThan(15_000);
    const customer = await h.customerOf(tenantId);
    await subscriptionOf(tenantId);
    await eventually('the message metered', () => (h.stripe.usage(customer, 'openclaw_messages') === 1 ? true : undefined), 30_000);
    expect(h.stripe.customersOf(tenantId)).toHaveLength(1);
  }, 60_000);

  it('invoice.payment_failed suspends the tenant once the grace period ends; invoice.paid reinstates it', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const bill = invoice(customer, sub.id);
    const failed = h.stripe.event('invoice.payment_failed', bill, now());
    const delivered = await h.stripe.deliver(failed);
    expect(delivered.status, delivered.body).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await h.tenantView(tenantId)).status).toBe('active');
    const suspended = await eventually('suspension after the grace period', async () => {
      const t = await h.tenantView(tenantId);
      return t.status === 'suspended' ? t : undefined;
    }, 20_000);
    expect(suspended).toMatchObject({ status: 'suspended' });
    expect((await h.billingEvents(tenantId)).map((e) => e.type)).toContain('GracePeriodEnded');
    const paid = h.stripe.event('invoice.paid', { ...bill, status: 'paid' }, now() + 1);
    expect((await h.stripe.deliver(paid)).status).toBe(200);
    await reinstated(tenantId, 'reinstatement');
  }, 60_000);

  it('another invoice paid does not lift a payment failure: the grace period still ends; paying the failed invoice reinstates', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const billA = invoice(customer, sub.id);
    const billB = invoice(customer, sub.id); // a one-off or a proration, paid while A is still unpaid
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', billA, now()))).status).toBe(200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', { ...billB, status: 'paid' }, now() + 1))).status).toBe(200);
    const suspended = await eventually('suspension after the grace period, B paid or not', async () => {
      const t = await h.tenantView(tenantId);
      return t.status === 'suspended' ? t : undefined;
    }, 20_000);
    expect(suspended).toMatchObject({ status: 'suspended' });
    const paidB = (await h.billingEvents(tenantId)).find((e) => e.type === 'InvoicePaid');
    expect(paidB?.data).toMatchObject({ invoiceId: billB.id, standing: 'failing' });
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', { ...billA, status: 'paid' }, now() + 2))).status).toBe(200);
    await reinstated(tenantId, 'reinstatement once A is paid');
  }, 60_000);

  it('invoice.voided clears that invoice\'s failure: no suspension when the grace period ends; a suspended tenant is reinstated', async () => {
    // X: invoice A fails, then Stripe voids A (delivered twice). Y fails a second later and is never voided:
    // once Y's grace period has ended, X's (which ended first) has been decided too.
    const x = await h.tenant('pro');
    const y = await h.tenant('pro');
    const [customerX, customerY] = [await h.customerOf(x.tenantId), await h.customerOf(y.tenantId)];
    const [subX, subY] = [await subscriptionOf(x.tenantId), await subscriptionOf(y.tenantId)];
    const billA = invoice(customerX, subX.id);
    const t = now();
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', billA, t))).status).toBe(200);
    const voided = h.stripe.event('invoice.voided', { ...billA, status: 'void' }, t + 1);
    expect(JSON.parse((await h.stripe.deliver(voided)).body)).toMatchObject({ received: true, recorded: 1 });
    expect((await h.stripe.deliver(voided)).status).toBe(200);
    // marked uncollectible: still unpaid, acknowledged and nothing changes
    const uncollectible = await h.stripe.deliver(h.stripe.event('invoice.marked_uncollectible', { ...invoice(customerX, subX.id), status: 'uncollectible' }, t + 2));
    expect(JSON.parse(uncollectible.body)).toMatchObject({ received: true, ignored: 'invoice_still_unpaid' });
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', invoice(customerY, subY.id), t + 1))).status).toBe(200);
    await eventually('Y suspended after its grace period', async () => ((await h.tenantView(y.tenantId)).status === 'suspended' ? true : undefined), 20_000);
    const eventsX = (await h.billingEvents(x.tenantId)).map((e) => e.type);
    expect(eventsX.filter((type) => type === 'InvoiceVoided')).toHaveLength(1);
    expect(eventsX).not.toContain('GracePeriodEnded');
    expect((await h.tenantView(x.tenantId)).status).toBe('active');

    // Y's failed invoice voided after the suspension: reinstated, as a payment would
    const billY = (await h.billingEvents(y.tenantId)).find((e) => e.type === 'InvoicePaymentFailed')!.data as { invoiceId: string };
    const voidY = await h.stripe.deliver(h.stripe.event('invoice.voided', { ...invoice(customerY, subY.id), id: billY.invoiceId, status: 'void' }, t + 20));
    expect(JSON.parse(voidY.body)).toMatchObject({ received: true, recorded: 1 });
    await reinstated(y.tenantId, 'Y reinstated once its failed invoice is voided');
  }, 60_000);

  it('a one-off invoice failed: the subscription ending keeps the tenant suspended; paying the one-off reinstates it', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const oneOff = invoice(customer, null);
    const own = invoice(customer, sub.id);
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', oneOff, now()))).status).toBe(200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', own, now() + 1))).status).toBe(200);
    await suspendedByBilling(tenantId);
    const deleted = await h.stripe.deliver(h.stripe.event('customer.subscription.deleted', { ...sub, status: 'canceled' }, now() + 2));
    expect(JSON.parse(deleted.body)).toMatchObject({ received: true, recorded: 2 });
    // the subscription took its own invoice's failure with it, not the one-off's
    expect((await clearing(tenantId))?.data).toMatchObject({ invoiceIds: [own.id], cause: 'subscription_ended', standing: 'failing' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await h.tenantView(tenantId)).status).toBe('suspended');
    expect(await h.billingState(tenantId)).toMatchObject({ subscription: null, payment: { standing: 'failing', unpaid: [{ invoiceId: oneOff.id }] } });
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', { ...oneOff, status: 'paid' }, now() + 3))).status).toBe(200);
    await reinstated(tenantId, 'reinstatement once the one-off is paid');
  }, 60_000);

  it('a subscription\'s own failed invoices (either webhook shape) clear when it ends: the suspended tenant is reinstated', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const current = invoice(customer, sub.id);
    // API versions before 2025-03-31 name the subscription at the top level
    const older = { ...invoice(customer, null), parent: undefined, subscription: sub.id };
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', current, now()))).status).toBe(200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', older, now() + 1))).status).toBe(200);
    await suspendedByBilling(tenantId);
    expect((await h.stripe.deliver(h.stripe.event('customer.subscription.deleted', { ...sub, status: 'canceled' }, now() + 2))).status).toBe(200);
    await reinstated(tenantId, 'reinstatement once the subscription ended');
    expect((await clearing(tenantId))?.data).toMatchObject({ invoiceIds: [current.id, older.id], standing: 'good' });
    // the move to free Stripe reported while it was suspended applies now: no paid tier without a subscription
    await eventually('the tier Stripe left it on', async () => ((await h.tenantView(tenantId)).tier === 'free' ? true : undefined));
  }, 60_000);

  it('a tenant an operator suspended is not reinstated by a payment', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const suspended = ok(await h.operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'abuse report' }), 200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', invoice(customer, sub.id), now()))).status).toBe(200);
    await eventually('the payment recorded', async () => ((await h.billingEvents(tenantId)).some((e) => e.type === 'InvoicePaid') ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // read at the suspension's position: a projector lagging behind it would show 'active' without any reinstatement
    expect((await h.tenantView(tenantId, suspended.position)).status).toBe('suspended');
    expect(PAYMENT_SUSPENSION_REASON).not.toBe('abuse report');
  });

  it('a tenant billing suspended and an operator then suspended for another reason is not reinstated by a payment', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const bill = invoice(customer, sub.id);
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', bill, now()))).status).toBe(200);
    await eventually('suspension after the grace period', async () => ((await h.tenantView(tenantId)).status === 'suspended' ? true : undefined), 20_000);
    ok(await h.operator.post(`/tenants/${tenantId}/suspend`, { reason: 'abuse report' }), 200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', { ...bill, status: 'paid' }, now() + 1))).status).toBe(200);
    await eventually('the payment recorded', async () => ((await h.billingEvents(tenantId)).some((e) => e.type === 'InvoicePaid') ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await h.tenantView(tenantId)).status).toBe('suspended');
  }, 60_000);

  it('a tenant an operator suspended keeps that suspension through a failed payment and the payment after it', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    const bill = invoice(customer, sub.id);
    const suspended = ok(await h.operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'abuse report' }), 200);
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', bill, now()))).status).toBe(200);
    await eventually('the grace period ended', async () => ((await h.billingEvents(tenantId)).some((e) => e.type === 'GracePeriodEnded') ? true : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await h.stripe.deliver(h.stripe.event('invoice.paid', { ...bill, status: 'paid' }, now() + 1))).status).toBe(200);
    await eventually('the payment recorded', async () => ((await h.billingEvents(tenantId)).some((e) => e.type === 'InvoicePaid') ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await h.tenantView(tenantId, suspended.position)).status).toBe('suspended');
  }, 60_000);

  it('each webhook delivered three times and out of order ends in the same tenant state as once in order', async () => {
    const scenario = async () => {
      const { tenantId } = await h.tenant('pro');
      const customer = await h.customerOf(tenantId);
      const sub = await subscriptionOf(tenantId);
      const t0 = now() + 600; // failures' grace periods end long after the test
      const withPrice = (price: string, status = 'active'): StripeObject => {
        const copy = structuredClone(sub);
        (copy.items as { data: { price: { id: string } }[] }).data[0]!.price = { id: price };
        return { ...copy, status };
      };
      const bill = invoice(customer, sub.id);
      const events = [
        h.stripe.event('customer.subscription.updated', withPrice(PRICES.enterprise), t0 + 1),
        h.stripe.event('invoice.payment_failed', bill, t0 + 2),
        h.stripe.event('invoice.paid', { ...bill, status: 'paid' }, t0 + 3),
        h.stripe.event('customer.subscription.updated', withPrice(PRICES.pro, 'active'), t0 + 4),
        h.stripe.event('invoice.payment_failed', invoice(customer, sub.id), t0 + 5),
      ];
      return { tenantId, events, t0 };
    };
    const once = await scenario();
    for (const e of once.events) expect((await h.stripe.deliver(e)).status).toBe(200);
    const shuffled = await scenario();
    const order = [3, 1, 4, 0, 2];
    for (let round = 0; round < 3; round++) for (const i of round === 1 ? [...order].reverse() : order) expect((await h.stripe.deliver(shuffled.events[i]!)).status).toBe(200);

    const settled = async (tenantId: string) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return eventually(`${tenantId} settled`, async () => {
        const t = await h.tenantView(tenantId);
        return t.tier === 'pro' ? t : undefined;
      });
    };
    const [a, b] = [await settled(once.tenantId), await settled(shuffled.tenantId)];
    expect({ status: b.status, tier: b.tier }).toEqual({ status: a.status, tier: a.tier });
    const [sa, sb] = [await h.billingState(once.tenantId), await h.billingState(shuffled.tenantId)];
    // Stripe times relative to each scenario's start: the two scenarios began a few seconds apart
    const shape = (s: typeof sa, t0: number) =>
      s.status === 'open'
        ? { payment: s.payment.standing, tier: s.subscription?.tier, price: s.subscription?.priceId, status: s.subscription?.status, mark: s.subscriptionMark!.created - t0, paid: s.paymentMark!.created - t0 }
        : s;
    expect(shape(sb, shuffled.t0)).toEqual(shape(sa, once.t0));
    expect(shape(sa, once.t0)).toEqual({ payment: 'failing', tier: 'pro', price: PRICES.pro, status: 'active', mark: 4, paid: 5 });
    // three deliveries recorded each fact once
    const recorded = (await h.billingEvents(shuffled.tenantId)).filter((e) => 'stripeEventId' in e.data).map((e) => (e.data as { stripeEventId: string }).stripeEventId);
    expect(new Set(recorded).size).toBe(recorded.length);
  }, 60_000);

  it('self-service: a Checkout link to upgrade, completed at Stripe, moves the tier and cancels the old subscription; a portal link', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const old = await subscriptionOf(tenantId);
    const { url } = ok(await me.post<{ url: string }>('/billing/checkout', { tier: 'enterprise' }), 200);
    const sessionId = /\/checkout\/(cs_test_[0-9a-f]+)$/.exec(url)![1]!;
    expect(h.stripe.checkoutSessions.get(sessionId)).toMatchObject({ customer, client_reference_id: tenantId, metadata: { tenantId, tier: 'enterprise' }, success_url: 'https://app.example/billing' });
    const { session } = h.stripe.completeCheckout(sessionId);
    expect((await h.stripe.deliver(h.stripe.event('checkout.session.completed', session, now()))).status).toBe(200);
    await eventually('the enterprise tier', async () => ((await h.tenantView(tenantId)).tier === 'enterprise' ? true : undefined));
    await eventually('the old subscription cancelled', () => (h.stripe.subscriptions.get(old.id)!.status === 'canceled' ? true : undefined));
    const portal = ok(await me.post<{ url: string }>('/billing/portal', {}), 200);
    expect(portal.url).toMatch(new RegExp(`^${h.stripe.url}/portal/`));
    expect(h.stripe.portalSessions.at(-1)).toMatchObject({ customer, return_url: 'https://app.example/billing' });
    const refused = await me.post<{ code: string }>('/billing/checkout', { tier: 'free' });
    expect([refused.status, refused.body.code]).toEqual([400, 'tier_not_for_sale']);
    const same = await me.post<{ code: string }>('/billing/checkout', { tier: 'enterprise' });
    expect([same.status, same.body.code]).toEqual([409, 'already_on_tier']);
    const bad = await me.post<{ code: string }>('/billing/checkout', { tier: 'platinum' });
    expect(bad.status).toBe(400);
  }, 60_000);

  it('erasure cancels the subscription and deletes the Stripe customer; later usage is not billed', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const sub = await subscriptionOf(tenantId);
    ok(await h.operator.delete(`/tenants/${tenantId}`), 200);
    await eventually('the customer deleted', () => (h.stripe.customers.has(customer) ? undefined : true));
    expect(h.stripe.subscriptions.get(sub.id)!.status).toBe('canceled');
    await eventually('the account closed', async () => ((await h.billingState(tenantId)).status === 'closed' ? true : undefined));
    expect((await h.billingEvents(tenantId)).map((e) => e.type)).toEqual(['StripeCustomerCreated', 'SubscriptionStarted', 'SubscriptionEnded', 'BillingAccountClosed']);
  });

  describe('bad input at POST /webhooks/stripe', () => {
    const appendedFor = async (tenantId: string) => (await h.api.storage.store.readStream(`billing-${tenantId}`)).length;
    let tenantId = '';
    let customer = '';
    let sub: StripeObject;
    beforeAll(async () => {
      ({ tenantId } = await h.tenant('pro'));
      customer = await h.customerOf(tenantId);
      sub = await subscriptionOf(tenantId);
    });

    it('a bad signature, an old timestamp, a body changed by one byte or no signature: 400, nothing appended', async () => {
      const before = await appendedFor(tenantId);
      const event = h.stripe.event('invoice.payment_failed', invoice(customer, sub.id), now());
      const wrongSecret = await h.stripe.deliver(event, { secret: 'whsec_notthesecretatall' });
      const old = await h.stripe.deliver(event, { timestamp: now() - 301 });
      const tampered = await h.stripe.deliver(event, { tamper: (body) => body.replace(/"created": (\d)/, (_m, d: string) => `"created": ${(Number(d) + 1) % 10}`) });
      const payload = JSON.stringify(event);
      const unsigned = await postRaw(h.webhookUrl, payload, {});
      const garbage = await postRaw(h.webhookUrl, payload, { 'stripe-signature': 'nonsense' });
      for (const reply of [wrongSecret, old, tampered, unsigned, garbage]) {
        expect(reply.status).toBe(400);
        expect(reply.contentType).toContain('application/problem+json');
      }
      expect(JSON.parse(wrongSecret.body)).toMatchObject({ code: 'invalid_signature' });
      expect(JSON.parse(unsigned.body)).toMatchObject({ code: 'missing_signature' });
      expect(await appendedFor(tenantId)).toBe(before);
      // the same event, properly signed, is accepted
      const accepted = await h.stripe.deliver(event);
      expect(accepted.status, accepted.body).toBe(200);
      expect(await appendedFor(tenantId)).toBe(before + 1);
    });

    it('an unknown event type is 200 and ignored; a customer nobody knows is 200 and changes nothing', async () => {
      const before = await appendedFor(tenantId);
      const unknown = await h.stripe.deliver(h.stripe.event('customer.tax_id.created', { id: 'txi_1', customer }, now()));
      expect([unknown.status, JSON.parse(unknown.body).ignored]).toEqual([200, 'event_type_not_handled']);
      const stranger = await h.stripe.deliver(h.stripe.event('invoice.paid', invoice('cus_nobodyknows', 'sub_x'), now()));
      expect([stranger.status, JSON.parse(stranger.body).ignored]).toEqual([200, 'unknown_customer']);
      expect(await appendedFor(tenantId)).toBe(before);
    });

    it('a signature made with our secret over another body does not verify', async () => {
      const body = JSON.stringify(h.stripe.event('invoice.paid', invoice(customer, sub.id), now()));
      const other = JSON.stringify(h.stripe.event('invoice.paid', invoice(customer, sub.id), now()));
      const reply = await postRaw(h.webhookUrl, body, { 'stripe-signature': stripeSignature(other, WEBHOOK_SECRET) });
      expect(reply.status).toBe(400);
    });
  });
});
