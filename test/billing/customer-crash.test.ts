import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeDouble } from '../doubles/stripe.ts';
import type { StripeDouble } from '../doubles/stripe.ts';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { newMasterKey } from '../support/codec.ts';
import { billingEnv, eventually, spawnBillingRole } from './support.ts';


/**
 * The billing role (a child process) killed with SIGKILL after Stripe made the tenant's customer and before
 * billing recorded it: the next run finds that customer again (one per tenant), and an erasure meanwhile
 * deletes it (nothing of the tenant left at Stripe).
 */
describe('a Stripe customer created but not recorded (billing killed in between)', () => {
  let stripe: StripeDouble;
  let api: ApiHarness;
  const masterKey = newMasterKey(); // the billing process reads tenants' names and emails with the same key
  beforeAll(async () => {
    stripe = await startStripeDouble();
    api = await startApiHarness({ ...billingEnv(stripe), ENCRYPTION_KEY: masterKey });
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await stripe?.close();
  });

  const startBilling = () => spawnBillingRole(api, stripe, { masterKey, instanceId: 'customer-crash-test' });

  const billingEvents = async (tenantId: string) => (await api.storage.store.readStream(`billing-${tenantId}`)).map((e) => e.type);
  const withData = (email: string) => [...stripe.customers.values()].filter((c) => c.email === email);

  /**
   * A new tenant whose customer Stripe makes while billing is killed before it records it: billing is held
   * at `method` `held` (the create, or the update naming the customer), then killed, then the answer dropped.
   */
  const killedAfter = async (method: string, held: RegExp) => {
    const hold = stripe.holdAnswers(method, held);
    const billing = startBilling();
    try {
      await billing.running;
      const tenantId = slug('cc');
      const email = `${tenantId}@acme.example`;
      ok(await client(api.baseUrl, api.operatorKey).post('/tenants', { slug: tenantId, name: 'Acme Crash', tier: 'pro', email }), 201);
      await eventually('billing waiting for Stripe\'s answer', () => (hold.held > 0 ? true : undefined), 20_000);
      billing.child.kill('SIGKILL');
      await billing.exited;
      expect(stripe.customersOf(tenantId)).toHaveLength(1);
      expect(await billingEvents(tenantId)).toEqual([]);
      return { tenantId, email };
    } finally {
      hold.release();
      billing.child.kill('SIGKILL');
    }
  };

  it('killed between the create\'s answer and its record: the restarted role gets the same customer back, names it and subscribes it', async () => {
    const { tenantId, email } = await killedAfter('POST', /^\/v1\/customers$/);
    const created = stripe.customersOf(tenantId)[0]!.id;
    const billing = startBilling();
    try {
      await billing.running;
      await eventually('the customer recorded and subscribed', async () => ((await billingEvents(tenantId)).includes('SubscriptionStarted') ? true : undefined), 30_000);
      expect(stripe.customersOf(tenantId).map((c) => c.id)).toEqual([created]);
      expect(stripe.customers.get(created)).toMatchObject({ name: 'Acme Crash', email });
      expect([...stripe.subscriptions.values()].filter((s) => s.customer === created)).toHaveLength(1);
    } finally {
      await billing.stop();
    }
  }, 90_000);

  it('killed between the create\'s answer and its record, then the tenant erased before billing is back: no customer of the tenant is left at Stripe', async () => {
    const { tenantId, email } = await killedAfter('POST', /^\/v1\/customers$/);
    ok(await client(api.baseUrl, api.operatorKey).delete(`/tenants/${tenantId}`), 200);
    const billing = startBilling();
    try {
      await billing.running;
      await eventually('the tenant\'s customer gone from Stripe', () => (stripe.customersOf(tenantId).length === 0 && withData(email).length === 0 ? true : undefined), 30_000);
      await eventually('the account closed', async () => ((await billingEvents(tenantId)).includes('BillingAccountClosed') ? true : undefined), 30_000);
    } finally {
      await billing.stop();
    }
  }, 90_000);

  it('killed after the customer got the tenant\'s name and email but before billing recorded it, then erased more than a day later: the customer is deleted', async () => {
    const { tenantId, email } = await killedAfter('POST', /^\/v1\/customers\/cus_[^/]+$/);
    expect(withData(email)).toHaveLength(1);
    ok(await client(api.baseUrl, api.operatorKey).delete(`/tenants/${tenantId}`), 200);
    // billing back after Stripe forgot the create's key: the customer is found by its link to the tenant
    stripe.expireIdempotencyKeys();
    const billing = startBilling();
    try {
      await billing.running;
      await eventually('the tenant\'s customer gone from Stripe', () => (stripe.customersOf(tenantId).length === 0 && withData(email).length === 0 ? true : undefined), 30_000);
    } finally {
      await billing.stop();
    }
  }, 90_000);
});
