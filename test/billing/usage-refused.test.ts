import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnexplained, reconcileUsage } from '../../adapters/billing/reconcile.ts';
import { registry } from '../../adapters/telemetry/metrics.ts';
import { ok } from '../http/support/client.ts';
import { eventually, startBillingHarness } from './support.ts';
import type { BillingHarness } from './support.ts';

const refusedCount = async (meter: string): Promise<number> =>
  (await registry.getSingleMetric('openclaw_billing_usage_reports_total')?.get())?.values.find((v) => v.labels.meter === meter && v.labels.outcome === 'refused')?.value ?? 0;

describe('a meter event Stripe refuses (4xx) is a visible failure, never dropped', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await startBillingHarness();
  }, 60_000);
  afterAll(() => h?.close());

  /** A knight of the tenant that ended 40 days ago (beyond Stripe's 35): its report is refused. Returns the report's identifier (the end event's id). */
  const lateKnight = async (tenantId: string, name: string): Promise<string> => {
    const start = Date.now() - 40 * 86_400_000;
    const at = (ms: number) => new Date(start + ms).toISOString();
    const stream = `knight-${tenantId}.${name}`;
    const ended = randomUUID();
    const meta = { tenantId, actor: 'saga', correlationId: randomUUID(), causationId: null };
    const events = await h.api.storage.codec.encode(
      'knight',
      stream,
      [
        { id: randomUUID(), event: { type: 'KnightProvisioned', data: { vmId: `vm-${name}`, url: null, at: at(0) } } },
        { id: ended, event: { type: 'KnightTerminated', data: { at: at(150_000) } } },
      ],
      meta,
    );
    await h.api.storage.store.append(stream, events, 'no_stream');
    return ended;
  };

  it('a refused report is sent once, not at every round: later usage of the tenant is still reported, and a restart of billing tries it once more', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const before = await refusedCount('knight_minutes');
    const identifier = await lateKnight(tenantId, 'k-once');
    // the report's attempts: its key is `meter:<identifier>`, and a new one (`…:r<n>`) at each retry after a refusal
    const attempts = () => h.stripe.calls.filter((c) => c.path === '/v1/billing/meter_events' && c.idempotencyKey?.startsWith(`meter:${identifier}`));
    await expect.poll(() => attempts().length, { timeout: 20_000 }).toBe(1);
    expect(attempts()[0]!.status).toBe(400);

    // later usage of the same tenant goes on being reported
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'after the refusal' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'still billed' }), 201);
    await expect.poll(() => h.stripe.usage(customer, 'openclaw_messages'), { timeout: 20_000 }).toBe(1);
    // Several worker rounds (BILLING_TICK_MS is 50) and longer than the old backoff's first steps (1 s, 2 s),
    // which sent the refused report again at each: it is still the one attempt, counted once.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(attempts()).toHaveLength(1);
    expect(await refusedCount('knight_minutes')).toBe(before + 1);

    // a restart (the operator fixed the cause, say) tries it once more; refused again, it stays refused
    await h.restartBilling({});
    await expect.poll(() => attempts().length, { timeout: 20_000 }).toBe(2);
    const day = new Date(Date.now() - 40 * 86_400_000 + 150_000).toISOString().slice(0, 10);
    await expect
      .poll(async () => {
        const r = await reconcileUsage({ db: h.api.storage.db, eventSchema: h.api.schemas.events, readModelSchema: h.api.schemas.readModels, fromDay: day, toDay: day });
        return r.differences.find((d) => d.tenantId === tenantId && d.meter === 'knight_minutes');
      }, { timeout: 20_000 })
      .toMatchObject({ reported: 0, pending: 3, refused: 3 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(attempts()).toHaveLength(2);
  }, 90_000);

  /** The tenant's meter event calls, and the message it posts (one usage report). */
  const postMessage = async (me: Awaited<ReturnType<BillingHarness['tenant']>>['me']) => {
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'metered' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'billed' }), 201);
  };
  const meterCalls = (customer: string, status: number) =>
    h.stripe.calls.filter((c) => c.path === '/v1/billing/meter_events' && c.status === status && c.customer === customer).length;

  it('a refused report whose cause is fixed is accepted at the next start of billing: a new idempotency key, so Stripe does not replay its refusal, and the same identifier', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    // the meter is missing at Stripe (a typo in its event name, say): every event of the tenant refused
    const missingMeter = h.stripe.refuse(/^\/v1\/billing\/meter_events$/, 400, { type: 'invalid_request_error', message: 'No active meter found for event_name openclaw_messages.', param: 'event_name' }, customer);
    await postMessage(me);
    await expect.poll(() => meterCalls(customer, 400), { timeout: 20_000 }).toBe(1);
    // the operator creates the meter at Stripe and restarts billing
    missingMeter.clear();
    await h.restartBilling({});
    await expect.poll(() => h.stripe.usage(customer, 'openclaw_messages'), { timeout: 20_000 }).toBe(1);
    const [refused] = h.stripe.calls.filter((c) => c.customer === customer && c.status === 400);
    const accepted = h.stripe.meterEvents.filter((e) => e.customer === customer);
    expect(accepted).toHaveLength(1);
    expect(refused!.idempotencyKey).toBe(`meter:${accepted[0]!.identifier}`);
  }, 60_000);

  it('a 403 (a restricted key without the meter-events permission) is not parked: tried again with the backoff and accepted once the key may report', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const restricted = h.stripe.refuse(/^\/v1\/billing\/meter_events$/, 403, { type: 'invalid_request_error', message: 'The provided key does not have the required permissions for this endpoint.' }, customer);
    await postMessage(me);
    // tried again without a restart (the permission is granted in Stripe's dashboard, billing is not touched)
    await expect.poll(() => meterCalls(customer, 403), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    restricted.clear();
    await expect.poll(() => h.stripe.usage(customer, 'openclaw_messages'), { timeout: 20_000 }).toBe(1);
  }, 60_000);

  it('a knight that ended 40 days ago (beyond Stripe\'s 35): counted as refused, kept pending, and reconciliation names it refused', async () => {
    const { tenantId } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const before = await refusedCount('knight_minutes');
    // a knight whose end reaches billing only now (a long outage, say): Stripe refuses a timestamp older than 35 days
    const start = Date.now() - 40 * 86_400_000;
    const at = (ms: number) => new Date(start + ms).toISOString();
    const stream = `knight-${tenantId}.k-late`;
    const meta = { tenantId, actor: 'saga', correlationId: randomUUID(), causationId: null };
    const events = await h.api.storage.codec.encode(
      'knight',
      stream,
      [
        { id: randomUUID(), event: { type: 'KnightProvisioned', data: { vmId: 'vm-late', url: null, at: at(0) } } },
        { id: randomUUID(), event: { type: 'KnightTerminated', data: { at: at(150_000) } } },
      ],
      meta,
    );
    await h.api.storage.store.append(stream, events, 'no_stream');

    await eventually('the refusal counted', async () => ((await refusedCount('knight_minutes')) > before ? true : undefined), 20_000);
    expect(h.stripe.calls.some((c) => c.path === '/v1/billing/meter_events' && c.status === 400)).toBe(true);
    expect(h.stripe.usage(customer, 'openclaw_knight_minutes')).toBe(0);

    const day = at(150_000).slice(0, 10);
    const result = await eventually('the read model counting the knight', async () => {
      const r = await reconcileUsage({ db: h.api.storage.db, eventSchema: h.api.schemas.events, readModelSchema: h.api.schemas.readModels, fromDay: day, toDay: day });
      return r.differences.some((d) => d.tenantId === tenantId && d.used > 0) ? r : undefined;
    });
    const difference = result.differences.find((d) => d.tenantId === tenantId && d.meter === 'knight_minutes')!;
    // kept for reconciliation: pending, and marked refused (not billing catching up), so the role's daily line warns
    expect(difference).toMatchObject({ used: 3, reported: 0, pending: 3, refused: 3 });
    expect(isUnexplained(difference)).toBe(true);
  }, 60_000);

  it('a report refused for a meter name Stripe does not know, the name fixed (STRIPE_METER_MESSAGES) and billing restarted: accepted under the new name (not an idempotency_error for the changed request)', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const wrongName = h.stripe.refuse(/^\/v1\/billing\/meter_events$/, 400, { type: 'invalid_request_error', message: 'No active meter found for event_name openclaw_messages.', param: 'event_name' }, customer);
    try {
      await postMessage(me);
      await expect.poll(() => meterCalls(customer, 400), { timeout: 20_000 }).toBe(1);
      // the double refuses by customer, not by name: it takes the renamed meter's events once the refusal ends
      wrongName.clear();
      await h.restartBilling({ STRIPE_METER_MESSAGES: 'openclaw_messages_renamed' });
      await expect.poll(() => h.stripe.usage(customer, 'openclaw_messages_renamed'), { timeout: 20_000 }).toBe(1);
    } finally {
      wrongName.clear();
      await h.restartBilling({});
    }
  }, 60_000);

  it('an idempotency_error (a report accepted, its answer lost, then sent with the meter renamed) is retried under a new key and counted once', async () => {
    const { tenantId, me } = await h.tenant('pro');
    const customer = await h.customerOf(tenantId);
    const hold = h.stripe.holdAnswers('POST', /^\/v1\/billing\/meter_events$/);
    try {
      await postMessage(me);
      await expect.poll(() => hold.held, { timeout: 20_000 }).toBe(1);
      // Stripe took the event; billing never heard it (the call times out) and restarts with the meter renamed
      await h.restartBilling({ STRIPE_METER_MESSAGES: 'openclaw_messages_renamed' }, async () => hold.release());
      const jobsLeft = async () => Number((await h.api.storage.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${h.api.schemas.events}.billing_jobs WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);
      await expect.poll(jobsLeft, { timeout: 20_000 }).toBe(0);
      expect(h.stripe.calls.some((c) => c.customer === customer && c.status === 400)).toBe(true);
      // the event counted once: the first (accepted) one; the retry's identifier was a repeat
      expect(h.stripe.meterEvents.filter((e) => e.customer === customer)).toHaveLength(1);
    } finally {
      hold.release();
      await h.restartBilling({});
    }
  }, 60_000);
});
