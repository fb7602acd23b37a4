import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { eventually, PRICES, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

const now = () => Math.floor(Date.now() / 1000);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a tier the customer paid for while an operator had the tenant suspended', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  const subscriptionOf = async (tenantId: string) => {
    const id = await eventually(`the subscription of ${tenantId}`, async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? state.subscription.id : undefined;
    });
    return h.stripe.subscriptions.get(id)!;
  };
  /**
   * Billing's consumer has handed over the tenant's newest event of type `type` (its checkpoint is past it)
   * and no account job of the tenant is left: what billing was handed has been done (or refused and logged).
   */
  const settled = async (tenantId: string, type: string) => {
    const streams = await Promise.all([`tenant-${tenantId}`, `billing-${tenantId}`].map((id) => h.api.storage.store.readStream(id)));
    const newest = streams.flat().filter((e) => e.type === type).reduce((max, e) => (e.position > max ? e.position : max), -1n);
    expect(newest).toBeGreaterThan(-1n);
    await eventually(`billing's consumer past ${tenantId}'s ${type}`, async () => (((await h.api.storage.checkpoints.load('billing')) ?? -1n) >= newest ? true : undefined));
    await eventually(`billing done with ${tenantId}`, async () => {
      const { rows } = await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${h.api.schemas.events}.billing_jobs WHERE tenant_id = $1 AND lane = 'account'`, [tenantId]);
      return Number(rows[0]!.n) === 0 ? true : undefined;
    });
  };
  const suspend = async (tenantId: string) => ok(await h.operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'abuse report' }), 200);

  it('an upgrade at Stripe (the portal) while suspended applies when the operator reinstates the tenant', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await subscriptionOf(tenantId);
    const suspended = await suspend(tenantId);
    // the customer upgrades in Stripe's portal: Stripe moves the item and sends the update
    (sub.items as { data: { price: { id: string } }[] }).data[0]!.price.id = PRICES.enterprise;
    const delivered = await h.stripe.deliver(h.stripe.event('customer.subscription.updated', sub, now()));
    expect(JSON.parse(delivered.body)).toMatchObject({ received: true, recorded: 1 });
    await settled(tenantId, 'StripeSubscriptionSynced');
    // refused while suspended: the tenant cannot change tier
    expect(await h.tenantView(tenantId, suspended.position)).toMatchObject({ status: 'suspended', tier: 'pro' });

    ok(await h.operator.post(`/tenants/${tenantId}/reinstate`, {}), 200);
    const view = await eventually('the tier the customer pays for', async () => {
      const t = await h.tenantView(tenantId);
      return t.tier === 'enterprise' ? t : undefined;
    });
    expect(view.status).toBe('active');
    await settled(tenantId, 'TenantTierChanged');
    // the tenant follows Stripe: nothing moved the subscription back
    expect(h.stripe.priceOf(h.stripe.subscriptions.get(sub.id)!)).toBe(PRICES.enterprise);
  }, 60_000);

  it('a Checkout completed while suspended: the bought tier applies on reinstatement, on the Checkout\'s subscription', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const old = await subscriptionOf(tenantId);
    const { url } = ok(await me.post<{ url: string }>('/billing/checkout', { tier: 'enterprise' }), 200);
    const sessionId = /\/checkout\/(cs_test_[0-9a-f]+)$/.exec(url)![1]!;
    await suspend(tenantId);
    const { session, subscription } = h.stripe.completeCheckout(sessionId);
    expect((await h.stripe.deliver(h.stripe.event('checkout.session.completed', session, now()))).status).toBe(200);
    await eventually('the old subscription cancelled', () => (h.stripe.subscriptions.get(old.id)!.status === 'canceled' ? true : undefined));
    await settled(tenantId, 'CheckoutCompleted');
    expect((await h.tenantView(tenantId)).tier).toBe('pro');

    ok(await h.operator.post(`/tenants/${tenantId}/reinstate`, {}), 200);
    await eventually('the bought tier', async () => ((await h.tenantView(tenantId)).tier === 'enterprise' ? true : undefined));
    await settled(tenantId, 'TenantTierChanged');
    expect(h.stripe.subscriptions.get(subscription.id)!.status).toBe('active');
    expect(h.stripe.priceOf(h.stripe.subscriptions.get(subscription.id)!)).toBe(PRICES.enterprise);
  }, 60_000);

  it('a tier the operator sets after the reinstatement stands, even when billing handles both only later', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await subscriptionOf(tenantId);
    await suspend(tenantId);
    // billing is down while the operator reinstates the tenant and then moves it to enterprise: when it
    // comes back, the reinstatement (tenant on pro then, as its subscription) must not undo the move
    await h.restartBilling({}, async () => {
      ok(await h.operator.post(`/tenants/${tenantId}/reinstate`, {}), 200);
      ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'enterprise' }), 200);
    });
    await eventually('the subscription moved', () => (h.stripe.priceOf(h.stripe.subscriptions.get(sub.id)!) === PRICES.enterprise ? true : undefined));
    await settled(tenantId, 'TenantTierChanged');
    await pause(300);
    expect(await h.tenantView(tenantId)).toMatchObject({ status: 'active', tier: 'enterprise' });
  }, 60_000);
});
