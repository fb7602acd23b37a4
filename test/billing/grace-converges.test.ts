import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StripeObject } from '../doubles/stripe.ts';
import { eventually, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('a failure of another invoice after the grace period ended', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness({ env: { BILLING_GRACE_SECONDS: '1' } });
  }, 60_000);
  afterAll(() => h?.close());

  it('joins the ended grace period: the tenant stays suspended and the worker stops asking (the due grace end is cleared)', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    await eventually('the subscription', async () => {
      const state = await h.billingState(tenantId);
      return state.status === 'open' && state.subscription ? state.subscription.id : undefined;
    });
    const invoice = (id: string): StripeObject => ({ id, object: 'invoice', customer, parent: null, status: 'open' });
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', invoice(`in_a_${tenantId}`), now()))).status).toBe(200);
    await eventually('suspension after the grace period', async () => ((await h.tenantView(tenantId)).status === 'suspended' ? true : undefined));
    expect((await h.stripe.deliver(h.stripe.event('invoice.payment_failed', invoice(`in_b_${tenantId}`), now() + 1))).status).toBe(200);
    await eventually('the second failure recorded', async () => ((await h.billingEvents(tenantId)).filter((e) => e.type === 'InvoicePaymentFailed').length === 2 ? true : undefined));
    // the second failure wrote the ended grace period's (past) end back; the worker must not ask about it every round
    await eventually('no grace period due any more', async () => (!(await h.billing!.tables.customers.graceOver(new Date())).includes(tenantId) ? true : undefined), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await h.billing!.tables.customers.graceOver(new Date())).not.toContain(tenantId);
    expect((await h.billingEvents(tenantId)).filter((e) => e.type === 'GracePeriodEnded')).toHaveLength(1);
    expect((await h.tenantView(tenantId)).status).toBe('suspended');
  }, 60_000);
});
