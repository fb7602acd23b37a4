import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileUsage } from '../../adapters/billing/reconcile.ts';
import { startStripeDouble } from '../doubles/stripe.ts';
import type { StripeDouble } from '../doubles/stripe.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { newMasterKey } from '../support/codec.ts';
import { billingEnv, eventually, spawnBillingRole } from './support.ts';

const KILLS = 20;

describe('the billing role survives kill -9 under load', () => {
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

  const startBilling = () => spawnBillingRole(api, stripe, { masterKey, instanceId: 'crash-test' });

  it(`after ${KILLS} SIGKILLs mid-work: exactly one customer and one subscription per tenant, and reported usage equals the usage read model`, async () => {
    const operator = client(api.baseUrl, api.operatorKey);
    const tenants: { tenantId: string; me: Client; conversationId: string }[] = [];
    let loadDone = false;
    let posted = 0;
    const load = (async () => {
      for (let round = 0; round < 12; round++) {
        const tenantId = slug('kill');
        ok(await operator.post('/tenants', { slug: tenantId, name: `Tenant ${round}`, tier: round % 3 === 0 ? 'enterprise' : 'pro' }), 201);
        const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'load' }), 201);
        ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
        const me = client(api.baseUrl, issued.key);
        const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'load' }), 201);
        tenants.push({ tenantId, me, conversationId });
        if (round === 5) ok(await operator.post(`/tenants/${tenants[1]!.tenantId}/tier`, { tier: 'enterprise' }), 200);
        for (const t of tenants)
          for (let i = 0; i < 10; i++) {
            ok(await t.me.post(`/conversations/${t.conversationId}/messages`, { text: `m${round}.${i}` }), 201);
            posted++;
          }
      }
      loadDone = true;
    })();

    let kills = 0;
    while (kills < KILLS) {
      const billing = startBilling();
      await billing.running;
      const before = stripe.calls.length;
      // kill once it is doing something: right after one of its Stripe calls, or after a moment if there is nothing to do
      await eventually('a Stripe call', () => (stripe.calls.length > before + (kills % 4) || (loadDone && kills > 10) ? true : undefined), 10_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, kills % 3 === 0 ? 0 : 15 * (kills % 5)));
      billing.child.kill('SIGKILL');
      await billing.exited;
      kills++;
    }
    await load;
    expect(posted).toBe(10 * (12 * 13) / 2);

    const last = startBilling();
    await last.running;
    try {
      const customerOf = (tenantId: string) => stripe.customersOf(tenantId)[0]?.id;
      await eventually(
        'all usage reported',
        () => (tenants.every((t) => { const c = customerOf(t.tenantId); return c !== undefined && stripe.usage(c, 'openclaw_messages') >= (tenants.length - tenants.indexOf(t)) * 10; }) ? true : undefined),
        120_000,
      );
      for (const [index, t] of tenants.entries()) {
        const customers = stripe.customersOf(t.tenantId);
        expect(customers, t.tenantId).toHaveLength(1);
        const subs = [...stripe.subscriptions.values()].filter((s) => s.customer === customers[0]!.id && s.status !== 'canceled');
        expect(subs, t.tenantId).toHaveLength(1);
        expect(stripe.priceOf(subs[0]!)).toBe(index % 3 === 0 || index === 1 ? 'price_enterprise_test' : 'price_pro_test');
        expect(stripe.usage(customers[0]!.id, 'openclaw_messages'), t.tenantId).toBe((tenants.length - index) * 10);
      }
      const day = new Date().toISOString().slice(0, 10);
      const result = await reconcileUsage({ db: api.storage.db, eventSchema: api.schemas.events, readModelSchema: api.schemas.readModels, fromDay: day, toDay: day });
      expect(result.differences).toEqual([]);
      expect(result.tenantDays).toBe(tenants.length);
    } finally {
      last.child.kill('SIGTERM');
      await last.exited;
    }
  }, 600_000);
});
