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
    const attempts = () => h.stripe.calls.filter((c) => c.path === '/v1/billing/meter_events' && c.idempotencyKey === `meter:${identifier}`);
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
});
