import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.ts';
import { startDev } from '../../runtime/dev.ts';
import type { DevPlatform } from '../../runtime/dev.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startStripeDouble } from '../doubles/stripe.ts';
import type { StripeDouble } from '../doubles/stripe.ts';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { billingEnv, eventually, PRICES, WEBHOOK_SECRET } from './support.ts';

describe('the embedded default with STRIPE_SECRET_KEY bills on PGlite', () => {
  let stripe: StripeDouble;
  let dataDir: string;
  let dev: DevPlatform;
  beforeAll(async () => {
    stripe = await startStripeDouble();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-billing-dev-'));
    const env = { ...billingEnv(stripe), DATA_DIR: dataDir, PORT: '0', ORGO_SIMULATOR_DELAYS: 'none' };
    dev = await startDev(loadConfig(env), createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), env);
  }, 120_000);
  afterAll(async () => {
    await dev?.stop();
    await stripe?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('says where Stripe is; a tenant gets its customer and subscription, a message is metered, a webhook is applied', async () => {
    expect(dev.billing).toMatch(/^Stripe at 127\.0\.0\.1:\d+ \(test mode; priced tiers: pro, enterprise; usage of messages, knight_minutes reported but NOT charged \(no STRIPE_METERED_PRICE_\*\)\)$/);
    const operator = client(dev.http.url, dev.operatorKey.key);
    const tenantId = slug('dev');
    ok(await operator.post('/tenants', { slug: tenantId, name: 'Embedded', tier: 'pro' }), 201);
    const customer = await eventually('a customer', () => stripe.customersOf(tenantId)[0]?.id, 60_000);
    const sub = await eventually('a subscription', () => [...stripe.subscriptions.values()].find((s) => s.customer === customer), 60_000);
    expect(stripe.priceOf(sub)).toBe(PRICES.pro);
    const { key } = ok(await operator.post<{ key: string }>(`/tenants/${tenantId}/api-keys`, { label: 'dev' }), 201);
    const me = client(dev.http.url, key);
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'dev' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'hello' }), 201);
    await eventually('the message metered', () => (stripe.usage(customer, 'openclaw_messages') === 1 ? true : undefined), 60_000);
    const failed = stripe.event('invoice.payment_failed', { id: 'in_dev', object: 'invoice', customer }, Math.floor(Date.now() / 1000));
    const reply = await stripe.deliver(failed, { url: `${dev.http.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    expect([reply.status, JSON.parse(reply.body).recorded]).toEqual([200, 1]);
  }, 180_000);
});
