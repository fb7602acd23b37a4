import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

/**
 * The Stripe library retries an attempt that timed out by itself (STRIPE_MAX_NETWORK_RETRIES): a 429 to that retry
 * says nothing of the first attempt, which Stripe may have counted. The report's first-send mark must stay, or it
 * moves forward and a later send past Stripe's 24 h dedupe counts the event twice.
 */
describe('a usage report whose library retry is answered 429 after a timed-out attempt', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness({ env: { STRIPE_MAX_NETWORK_RETRIES: '1', STRIPE_TIMEOUT_MS: '1000' } });
  }, 60_000);
  afterAll(() => h?.close());

  it('keeps its first-send mark (the time of the first send)', async () => {
    const { tenantId } = await h.tenant('pro');
    await h.customerOf(tenantId);
    const jobs = `${h.api.schemas.events}.billing_jobs`;
    const row = async () =>
      (await h.api.storage.db.query<{ first_sent_at: Date | null; attempts: number }>(`SELECT first_sent_at, attempts FROM ${jobs} WHERE tenant_id = $1 AND lane = 'usage'`, [tenantId])).rows[0];
    const identifier = randomUUID();
    const hold = h.stripe.holdAnswers('POST', /^\/v1\/billing\/meter_events$/);
    try {
      await h.billing!.tables.add([
        { id: `usage:${identifier}`, tenantId, lane: 'usage', payload: { kind: 'usage', meter: 'messages', value: 1, identifier, timestamp: Math.floor(Date.now() / 1000), day: new Date().toISOString().slice(0, 10) } },
      ]);
      // the first attempt reaches Stripe (counted) and its answer never comes back; the library's retry gets a 429
      await expect.poll(() => hold.held, { timeout: 20_000 }).toBe(1);
      h.stripe.failNext(1, 429, /^\/v1\/billing\/meter_events$/);
      const first = (await row())!.first_sent_at;
      expect(first).not.toBeNull();
      await expect.poll(async () => (await row())?.attempts ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
      expect(h.stripe.calls.filter((c) => c.path === '/v1/billing/meter_events').map((c) => c.status)).toContain(429);
      expect((await row())!.first_sent_at).toEqual(first);
    } finally {
      h.stripe.clearFailures();
      hold.release();
    }
  }, 60_000);
});
