import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { eventually, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

describe('erasure: the Stripe customer is deleted even when Stripe fails between the steps', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  const subscribed = async (tenantId: string) => {
    const customer = await h.customerOf(tenantId);
    const subscriptionId = await eventually('the subscription', async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? state.subscription.id : undefined;
    });
    return { customer, subscriptionId };
  };

  it('the delete of the customer failing once (after the subscription was cancelled) is retried until Stripe confirms', async () => {
    const { tenantId } = await h.tenant('pro');
    const { customer, subscriptionId } = await subscribed(tenantId);
    h.stripe.failNext(1, 500, new RegExp(`^/v1/customers/${customer}$`));
    ok(await h.operator.delete(`/tenants/${tenantId}`), 200);
    await eventually('the customer deleted at Stripe', () => (h.stripe.customers.has(customer) ? undefined : true), 20_000);
    expect(h.stripe.calls.filter((c) => c.method === 'DELETE' && c.path === `/v1/customers/${customer}`).map((c) => c.status)).toEqual([500, 200]);
    expect(h.stripe.subscriptions.get(subscriptionId)!.status).toBe('canceled');
    await eventually('the account closed', async () => ((await h.billingState(tenantId)).status === 'closed' ? true : undefined));
    // nothing is left to do for the tenant (the job row goes after the account closes: waited for, as the full run caught it still there)
    const jobsLeft = async () => Number((await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${h.api.schemas.events}.billing_jobs WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);
    await expect.poll(jobsLeft, { timeout: 10_000 }).toBe(0);
  }, 60_000);

  it('billing down between the erasure and the delete (the role restarted): the customer is deleted when it is back', async () => {
    const { tenantId } = await h.tenant('pro');
    const { customer } = await subscribed(tenantId);
    await h.restartBilling({}, async () => {
      ok(await h.operator.delete(`/tenants/${tenantId}`), 200);
    });
    await eventually('the customer deleted at Stripe', () => (h.stripe.customers.has(customer) ? undefined : true), 20_000);
    await eventually('the account closed', async () => ((await h.billingState(tenantId)).status === 'closed' ? true : undefined));
  }, 60_000);
});
