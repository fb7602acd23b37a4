import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

describe("Stripe refusing the customer's name or email does not hold the tenant's billing back", () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  it('the naming update refused (an email Stripe does not take): the customer is kept unnamed, and the subscription is still created', async () => {
    const refused = h.stripe.refuse(/^\/v1\/customers\/cus_[^/]+$/, 400, { type: 'invalid_request_error', code: 'email_invalid', param: 'email', message: 'Invalid email address: billing@acme.example' });
    try {
      const { tenantId } = await h.tenant('pro');
      const customer = await h.customerOf(tenantId);
      await expect.poll(async () => (await h.billingEvents(tenantId)).map((e) => e.type), { timeout: 20_000 }).toContain('SubscriptionStarted');
      expect(h.stripe.calls.some((c) => c.path === `/v1/customers/${customer}` && c.status === 400)).toBe(true);
      expect(h.stripe.customers.get(customer)).toMatchObject({ name: null, email: null });
      expect([...h.stripe.subscriptions.values()].filter((s) => s.customer === customer)).toHaveLength(1);
    } finally {
      refused.clear();
    }
  }, 60_000);
});
