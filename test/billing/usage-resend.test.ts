import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileUsage } from '../../adapters/billing/reconcile.ts';
import { registry } from '../../adapters/telemetry/metrics.ts';
import { ok } from '../http/support/client.ts';
import { startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

describe('a usage report sent again after a lost answer: the same request, and never past Stripe\'s 24 h dedupe', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  const jobsTable = () => `${h.api.schemas.events}.billing_jobs`;
  const meterCalls = (identifier: string) => h.stripe.calls.filter((c) => c.path === '/v1/billing/meter_events' && c.idempotencyKey?.startsWith(`meter:${identifier}`));

  it('an event stamped 1 min ahead of billing\'s clock is sent with its own timestamp, and 10 min ahead with billing\'s now; the retry after a lost answer is the same request (no idempotency_error)', async () => {
    const { tenantId } = await h.tenant('pro');
    await h.customerOf(tenantId);
    const now = Math.floor(Date.now() / 1000);
    const day = new Date().toISOString().slice(0, 10);
    const [near, far] = [randomUUID(), randomUUID()];
    const hold = h.stripe.holdAnswers('POST', /^\/v1\/billing\/meter_events$/);
    try {
      await h.billing!.tables.add(
        [
          { identifier: near, timestamp: now + 60 },
          { identifier: far, timestamp: now + 600 },
        ].map(({ identifier, timestamp }) => ({ id: `usage:${identifier}`, tenantId, lane: 'usage' as const, payload: { kind: 'usage' as const, meter: 'messages' as const, value: 1, identifier, timestamp, day } })),
      );
      // Stripe carries both out; billing never hears back (its call times out, STRIPE_TIMEOUT_MS) and sends each
      // again under its key, a request Stripe answers from its idempotency store
      const jobsLeft = async () => Number((await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${jobsTable()} WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);
      await expect.poll(jobsLeft, { timeout: 30_000 }).toBe(0);
    } finally {
      hold.release();
    }
    for (const identifier of [near, far]) {
      // sent twice, the second answered by Stripe's replay: never a 400 (an idempotency_error for a changed timestamp)
      expect(meterCalls(identifier).map((c) => [c.idempotencyKey, c.status])).toEqual([
        [`meter:${identifier}`, 200],
        [`meter:${identifier}`, 200],
      ]);
    }
    const event = (identifier: string) => h.stripe.meterEvents.find((e) => e.identifier === identifier)!;
    expect(event(near).timestamp).toBe(now + 60);
    expect(event(far).timestamp).toBeLessThan(now + 300);
    expect(event(far).timestamp).toBeGreaterThanOrEqual(now);
  }, 60_000);

  it('a usage event the bus delivers again after its report was accepted (an offset reset) is not sent again', async () => {
    const { tenantId } = await h.tenant('pro');
    await h.customerOf(tenantId);
    const day = new Date().toISOString().slice(0, 10);
    const usage = (identifier: string) => ({ id: `usage:${identifier}`, tenantId, lane: 'usage' as const, payload: { kind: 'usage' as const, meter: 'messages' as const, value: 1, identifier, timestamp: Math.floor(Date.now() / 1000), day } });
    const jobsLeft = async () => Number((await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${jobsTable()} WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);
    const [replayed, next] = [randomUUID(), randomUUID()];
    await h.billing!.tables.add([usage(replayed)]);
    await expect.poll(jobsLeft, { timeout: 20_000 }).toBe(0);
    // delivered again, then a new event after it: once the new one is reported, the replayed one would have been sent
    await h.billing!.tables.add([usage(replayed), usage(next)]);
    await expect.poll(() => meterCalls(next).length, { timeout: 20_000 }).toBe(1);
    await expect.poll(jobsLeft, { timeout: 20_000 }).toBe(0);
    expect(meterCalls(replayed)).toHaveLength(1);
  }, 60_000);

  it('a report refused before, then sent with its answer lost over 23 h ago, is undecided only, no longer refused', async () => {
    const { tenantId } = await h.tenant('pro');
    await h.customerOf(tenantId);
    const day = new Date().toISOString().slice(0, 10);
    const identifier = randomUUID();
    const payload = { kind: 'usage', meter: 'messages', value: 1, identifier, timestamp: Math.floor(Date.now() / 1000), day };
    // refused once, tried again at billing's start (still marked refused), sent without an answer a day ago
    await h.api.storage.db.query(
      `INSERT INTO ${jobsTable()} (id, tenant_id, lane, payload, attempts, rekeys, refused, first_sent_at) VALUES ($1, $2, 'usage', $3, 2, 1, true, now() - interval '24 hours')`,
      [`usage:${identifier}`, tenantId, JSON.stringify(payload)],
    );
    const row = async () =>
      (await h.api.storage.db.query<{ undecided: boolean; refused: boolean }>(`SELECT undecided, refused FROM ${jobsTable()} WHERE tenant_id = $1`, [tenantId])).rows[0];
    await expect.poll(async () => (await row())?.undecided, { timeout: 20_000 }).toBe(true);
    // reconciliation sums `refused` and `undecided` rows apart: the report is in one column only
    expect(await row()).toEqual({ undecided: true, refused: false });
    expect(meterCalls(identifier)).toHaveLength(0);
  }, 60_000);

  it('a report whose answer was lost more than 23 h ago is not sent again (under any key): parked, undecided in reconciliation', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const undecided = async () =>
      (await h.api.storage.db.query<{ undecided: boolean }>(`SELECT undecided FROM ${jobsTable()} WHERE tenant_id = $1 AND lane = 'usage'`, [tenantId])).rows[0]?.undecided;
    const hold = h.stripe.holdAnswers('POST', /^\/v1\/billing\/meter_events$/);
    let identifier = '';
    try {
      const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'metered' }), 201);
      ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'billed' }), 201);
      await expect.poll(() => hold.held, { timeout: 20_000 }).toBe(1);
      identifier = h.stripe.meterEvents.find((e) => e.customer === customer)!.identifier;
      // as if the answer had been lost a day ago: Stripe has forgotten the key (and, past 24 h, the identifier)
      const { rows } = await h.api.storage.db.query(`UPDATE ${jobsTable()} SET first_sent_at = now() - interval '24 hours' WHERE tenant_id = $1 AND lane = 'usage' RETURNING id`, [tenantId]);
      expect(rows).toHaveLength(1);
      h.stripe.expireIdempotencyKeys();
      // the call times out (STRIPE_TIMEOUT_MS): the outcome is unknown, and the next attempt finds the first send a day old
      await expect.poll(undecided, { timeout: 30_000 }).toBe(true);
    } finally {
      hold.release();
    }
    expect(meterCalls(identifier)).toHaveLength(1);
    const day = new Date().toISOString().slice(0, 10);
    await expect
      .poll(async () => {
        const r = await reconcileUsage({ db: h.api.storage.db, eventSchema: h.api.schemas.events, readModelSchema: h.api.schemas.readModels, fromDay: day, toDay: day });
        return r.differences.find((d) => d.tenantId === tenantId && d.meter === 'messages');
      }, { timeout: 20_000 })
      .toMatchObject({ used: 1, reported: 0, pending: 1, undecided: 1 });
    // the gauge BillingUsageUndecided alerts on counts it while it waits (not only in the round that parked it)
    const gauge = async () => (await registry.getSingleMetric('openclaw_billing_usage_undecided')?.get())?.values.find((v) => v.labels.meter === 'messages')?.value ?? 0;
    await expect.poll(gauge, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    // a restart of billing (which retries refused reports) does not send it either
    await h.restartBilling({});
    await expect.poll(undecided, { timeout: 20_000 }).toBe(true);
    expect(meterCalls(identifier)).toHaveLength(1);
  }, 60_000);
});
