import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

describe("the tenant's Stripe customer: naming refused, and erasure of a tenant billing never reached", () => {
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

  it('the naming update refused for the key (403: a restricted key without customer write) is retried, not let go: the customer is named once the key is fixed', async () => {
    const denied = h.stripe.refuse(/^\/v1\/customers\/cus_[^/]+$/, 403, { type: 'invalid_request_error', message: 'The provided key does not have the required permissions for this endpoint.' });
    let tenantId = '';
    try {
      tenantId = (await h.tenant('pro')).tenantId;
      await expect.poll(() => h.stripe.calls.some((c) => c.method === 'POST' && /^\/v1\/customers\/cus_/.test(c.path) && c.status === 403), { timeout: 20_000 }).toBe(true);
    } finally {
      denied.clear();
    }
    const customer = await h.customerOf(tenantId);
    expect(h.stripe.customers.get(customer)).toMatchObject({ name: 'Acme Billing', email: 'billing@acme.example' });
    expect(h.stripe.customersOf(tenantId)).toHaveLength(1);
  }, 60_000);

  it('a tenant created and erased while billing was down (billing never set out to make its customer): its erasure makes no Stripe call, and its usage reports are dropped', async () => {
    let erased = '';
    await h.restartBilling({}, async () => {
      const { tenantId, me } = await h.tenant('pro');
      erased = tenantId;
      // a message before the erasure: a usage report that waits for a customer there will never be
      const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'metered' }), 201);
      ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'billed' }), 201);
      ok(await h.operator.delete(`/tenants/${erased}`), 200);
    });
    // a tenant created after it: once it has its customer, billing took the erased tenant's jobs in (in order) ...
    const { tenantId: later } = await h.tenant('pro');
    await h.customerOf(later);
    // ... and has done them, the usage report (which would stay pending forever, in reconciliation too) dropped
    const jobsLeft = async () => Number((await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${h.api.schemas.events}.billing_jobs WHERE tenant_id = $1`, [erased])).rows[0]!.n);
    await expect.poll(jobsLeft, { timeout: 20_000 }).toBe(0);
    // no customer created (and deleted) carrying the tenant's slug
    expect(h.stripe.calls.filter((c) => c.idempotencyKey?.startsWith(`customer:${erased}:`))).toEqual([]);
    expect(h.stripe.customersOf(erased)).toEqual([]);
  }, 60_000);
});
