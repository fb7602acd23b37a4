import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { eventually, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('two Checkouts whose webhooks arrive out of order', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  it('the later one wins; the earlier one\'s subscription, completed after it, is cancelled at Stripe (the customer pays one)', async () => {
    const { tenantId, me } = await h.tenant('free');
    await h.customerOf(tenantId);
    const sessionOf = async (tier: string) => /\/checkout\/(cs_test_[0-9a-f]+)$/.exec(ok(await me.post<{ url: string }>('/billing/checkout', { tier }), 200).url)![1]!;
    const first = h.stripe.completeCheckout(await sessionOf('pro'));
    const second = h.stripe.completeCheckout(await sessionOf('enterprise'));
    const t = now();
    // the later Checkout's webhook arrives first, then the earlier one's
    expect((await h.stripe.deliver(h.stripe.event('checkout.session.completed', second.session, t + 1))).status).toBe(200);
    await eventually('the enterprise tier', async () => ((await h.tenantView(tenantId)).tier === 'enterprise' ? true : undefined));
    expect((await h.stripe.deliver(h.stripe.event('checkout.session.completed', first.session, t))).status).toBe(200);
    await eventually('the earlier Checkout\'s subscription cancelled', () => (h.stripe.subscriptions.get(first.subscription.id)!.status === 'canceled' ? true : undefined));
    expect(h.stripe.subscriptions.get(second.subscription.id)!.status).toBe('active');
    const state = await h.billingState(tenantId);
    expect(state).toMatchObject({ subscription: { id: second.subscription.id, tier: 'enterprise' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await h.tenantView(tenantId)).tier).toBe('enterprise');
  }, 60_000);
});
