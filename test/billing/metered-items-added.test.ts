import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { eventually, METERED, METERED_MESSAGES_V2, PRICES, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

describe('metered prices set after customers subscribed: the existing subscriptions are charged from then on', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    // billing starts without STRIPE_METERED_PRICE_*: subscriptions get their flat tier item only
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  it('the tenant\'s next usage report adds the missing metered items to its subscription, once, with idempotency keys', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const subscriptionId = await eventually('the subscription recorded', async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? state.subscription.id : undefined;
    });
    expect(h.stripe.pricesOf(h.stripe.subscriptions.get(subscriptionId)!)).toEqual([PRICES.pro]);

    await h.restartBilling({ STRIPE_METERED_PRICE_MESSAGES: METERED.messages, STRIPE_METERED_PRICE_KNIGHT_MINUTES: METERED.knight_minutes });
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'usage after the prices were set' }), 201);
    for (const text of ['one', 'two', 'three']) ok(await me.post(`/conversations/${conversationId}/messages`, { text }), 201);
    await eventually('three messages metered', () => (h.stripe.usage(customer, 'openclaw_messages') === 3 ? true : undefined), 20_000);

    const sub = h.stripe.subscriptions.get(subscriptionId)!;
    // the metered items are there beside the flat one (and only once each: Stripe refuses a price twice)
    expect([...h.stripe.pricesOf(sub)].sort()).toEqual([PRICES.pro, METERED.messages, METERED.knight_minutes].sort());
    const added = h.stripe.calls.filter((c) => c.method === 'POST' && c.path === '/v1/subscription_items');
    expect(added.map((c) => [c.status, c.idempotencyKey]).sort()).toEqual(
      [
        [200, `metered:${subscriptionId}:${METERED.knight_minutes}`],
        [200, `metered:${subscriptionId}:${METERED.messages}`],
      ].sort(),
    );
    // the tier is still read from the flat item: a tier change moves it and leaves the metered ones
    ok(await h.operator.post(`/tenants/${tenantId}/tier`, { tier: 'enterprise' }), 200);
    await eventually('the flat item on the enterprise price', () => (h.stripe.priceOf(h.stripe.subscriptions.get(subscriptionId)!) === PRICES.enterprise ? true : undefined));
    expect([...h.stripe.pricesOf(h.stripe.subscriptions.get(subscriptionId)!)].sort()).toEqual([PRICES.enterprise, METERED.messages, METERED.knight_minutes].sort());
  }, 60_000);

  it('a metered price changed to another one adds nothing beside the old item: the meter is not charged twice', async () => {
    // (runs after the first case: billing now has both metered prices, and this tenant subscribes with them)
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const subscriptionId = await eventually('the subscription recorded', async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? state.subscription.id : undefined;
    });
    expect([...h.stripe.pricesOf(h.stripe.subscriptions.get(subscriptionId)!)].sort()).toEqual([PRICES.pro, METERED.messages, METERED.knight_minutes].sort());

    await h.restartBilling({ STRIPE_METERED_PRICE_MESSAGES: METERED_MESSAGES_V2, STRIPE_METERED_PRICE_KNIGHT_MINUTES: METERED.knight_minutes });
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'usage after the price changed' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'one' }), 201);
    await eventually('the message metered', () => (h.stripe.usage(customer, 'openclaw_messages') === 1 ? true : undefined), 20_000);
    await eventually('the subscription looked at', () => (h.stripe.calls.some((c) => c.method === 'GET' && c.path === `/v1/subscriptions/${subscriptionId}`) ? true : undefined));
    // before: the new price was added beside the old one, both on the messages meter
    expect([...h.stripe.pricesOf(h.stripe.subscriptions.get(subscriptionId)!)].sort()).toEqual([PRICES.pro, METERED.messages, METERED.knight_minutes].sort());
    expect(h.stripe.calls.filter((c) => c.method === 'POST' && c.path === '/v1/subscription_items' && c.idempotencyKey?.startsWith(`metered:${subscriptionId}:`))).toEqual([]);
  }, 60_000);
});
