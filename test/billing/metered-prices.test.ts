import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingConfigSchema } from '../../adapters/billing/config.ts';
import { describeBilling } from '../../runtime/billing.ts';
import type { StripeObject } from '../doubles/stripe.ts';
import { ok } from '../http/support/client.ts';
import { eventually, METERED, PRICES, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

const now = () => Math.floor(Date.now() / 1000);
type Item = { id: string; price: { id: string; recurring: { usage_type: string } }; quantity?: number };
const itemsOf = (sub: StripeObject) => (sub.items as { data: Item[] }).data;

describe('metered usage is charged: every subscription carries the metered prices beside its tier price', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness({ env: { STRIPE_METERED_PRICE_MESSAGES: METERED.messages, STRIPE_METERED_PRICE_KNIGHT_MINUTES: METERED.knight_minutes } });
  }, 60_000);
  afterAll(() => h?.close());

  const liveSubscriptionOf = async (tenantId: string) => {
    const customer = await h.customerOf(tenantId);
    await eventually(`the subscription of ${tenantId} recorded`, async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? true : undefined;
    });
    return [...h.stripe.subscriptions.values()].find((s) => s.customer === customer && s.status !== 'canceled')!;
  };

  it('a subscription is created with the tier price and one metered item per meter (no quantity on those)', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await liveSubscriptionOf(tenantId);
    expect(h.stripe.pricesOf(sub)).toEqual([PRICES.pro, METERED.messages, METERED.knight_minutes]);
    expect(itemsOf(sub).filter((i) => i.price.recurring.usage_type === 'metered').map((i) => i.quantity)).toEqual([undefined, undefined]);
  });

  it('a tier change moves the flat item found by its price, even listed after the metered ones; the metered items stay', async () => {
    const { tenantId } = await h.tenant('pro');
    const sub = await liveSubscriptionOf(tenantId);
    // Stripe does not promise an order of items: put the metered ones first
    itemsOf(sub).reverse();
    ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'enterprise' }), 200);
    await eventually('the flat item on the enterprise price', () => (h.stripe.priceOf(h.stripe.subscriptions.get(sub.id)!) === PRICES.enterprise ? true : undefined));
    expect([...h.stripe.pricesOf(h.stripe.subscriptions.get(sub.id)!)].sort()).toEqual([PRICES.enterprise, METERED.messages, METERED.knight_minutes].sort());
  });

  it('Checkout sells the tier price with the metered prices; the webhook reads the tier from the flat item wherever it is listed', async () => {
    const { tenantId, me } = await h.tenant('pro');
    await liveSubscriptionOf(tenantId);
    const { url } = ok(await me.post<{ url: string }>('/billing/checkout', { tier: 'enterprise' }), 200);
    const sessionId = /\/checkout\/(cs_test_[0-9a-f]+)$/.exec(url)![1]!;
    const { session, subscription } = h.stripe.completeCheckout(sessionId);
    expect(h.stripe.pricesOf(subscription)).toEqual([PRICES.enterprise, METERED.messages, METERED.knight_minutes]);
    expect((await h.stripe.deliver(h.stripe.event('checkout.session.completed', session, now()))).status).toBe(200);
    await eventually('the enterprise tier', async () => ((await h.tenantView(tenantId)).tier === 'enterprise' ? true : undefined));
    // Stripe moves the subscription to pro (the portal, say) and lists the metered items first
    const moved = structuredClone(subscription);
    itemsOf(moved).find((i) => i.price.id === PRICES.enterprise)!.price.id = PRICES.pro;
    itemsOf(moved).reverse();
    expect((await h.stripe.deliver(h.stripe.event('customer.subscription.updated', moved, now() + 1))).status).toBe(200);
    await eventually('the pro tier from the webhook', async () => ((await h.tenantView(tenantId)).tier === 'pro' ? true : undefined));
  }, 60_000);

  it('the banner says when usage is reported but not charged', () => {
    const base = { STRIPE_SECRET_KEY: 'sk_test_0123456789abcdef', STRIPE_WEBHOOK_SECRET: 'whsec_0123456789', STRIPE_PRICE_PRO: PRICES.pro };
    expect(describeBilling(billingConfigSchema.parse(base))).toContain('usage of messages, knight_minutes reported but NOT charged');
    expect(describeBilling(billingConfigSchema.parse({ ...base, STRIPE_METERED_PRICE_MESSAGES: METERED.messages }))).toContain('usage of knight_minutes reported but NOT charged');
    expect(describeBilling(billingConfigSchema.parse({ ...base, STRIPE_METERED_PRICE_MESSAGES: METERED.messages, STRIPE_METERED_PRICE_KNIGHT_MINUTES: METERED.knight_minutes }))).toContain('usage charged)');
  });
});
