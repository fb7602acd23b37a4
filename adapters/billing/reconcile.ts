import type { SqlDb } from '../event-store/sql/db.ts';
import { checkSchemaName } from '../event-store/sql/schema.ts';
import { METERS } from './config.ts';
import type { Meter } from './config.ts';
import { usageTotals } from '../../projections/usage/totals.ts';

const DAY_MS = 86_400_000;

/** The days a reconciliation covers unless told otherwise: yesterday and today (UTC). */
export const defaultReconcileDays = (now: number): { fromDay: string; toDay: string } => ({
  fromDay: new Date(now - DAY_MS).toISOString().slice(0, 10),
  toDay: new Date(now).toISOString().slice(0, 10),
});

const isMeter = (name: string): name is Meter => (METERS as readonly string[]).includes(name);

/** One tenant-day where what Stripe accepted differs from the usage read model. */
export interface UsageDifference {
  readonly tenantId: string;
  readonly day: string;
  readonly meter: Meter;
  /** In the usage read model. */
  readonly used: number;
  /** Accepted by Stripe (meter events recorded in billing_usage_reports). */
  readonly reported: number;
  /** Handed to the billing worker but not accepted yet (Stripe down, no customer yet, or refused). */
  readonly pending: number;
  /** The part of `pending` Stripe refused (a 4xx at the last attempt): not billing catching up, it needs an operator. */
  readonly refused: number;
  /**
   * The part of `pending` sent more than 23 h ago without Stripe's answer (it may or may not have been counted) and
   * not sent again: an operator decides (Stripe's meter holds the event's identifier, or not).
   */
  readonly undecided: number;
}

export interface Reconciliation {
  readonly fromDay: string;
  readonly toDay: string;
  readonly tenantDays: number;
  readonly differences: readonly UsageDifference[];
}

/**
 * Compares, per tenant and UTC day, the usage read model with the meter events Stripe accepted.
 * A difference that `pending` explains is billing still catching up; the rest needs a look. Erased
 * tenants are not compared (erasure purges their usage rows; nothing is billed after it).
 */
/** A difference that reports still pending do not explain: more or less than the read model, or reports Stripe refused. */
export const isUnexplained = (d: UsageDifference): boolean => d.used !== d.reported + d.pending || d.refused > 0 || d.undecided > 0;

export const reconcileUsage = async (options: { db: SqlDb; eventSchema: string; readModelSchema: string; fromDay: string; toDay: string }): Promise<Reconciliation> => {
  const s = checkSchemaName(options.eventSchema);
  const used = await usageTotals(options.db, checkSchemaName(options.readModelSchema), options.fromDay, options.toDay);
  const { rows: reports } = await options.db.query<{ tenant_id: string; day: string; meter: string; value: string }>(
    `SELECT tenant_id, to_char(day, 'YYYY-MM-DD') AS day, meter, sum(value) AS value FROM ${s}.billing_usage_reports
     WHERE day BETWEEN $1::date AND $2::date AND tenant_id NOT IN (SELECT tenant_id FROM ${s}.billing_customers WHERE closed)
     GROUP BY 1, 2, 3`,
    [options.fromDay, options.toDay],
  );
  const { rows: pendingRows } = await options.db.query<{ tenant_id: string; day: string; meter: string; value: string; refused: string; undecided: string }>(
    `SELECT tenant_id, payload->>'day' AS day, payload->>'meter' AS meter, sum((payload->>'value')::numeric) AS value,
            coalesce(sum((payload->>'value')::numeric) FILTER (WHERE refused), 0) AS refused,
            coalesce(sum((payload->>'value')::numeric) FILTER (WHERE undecided), 0) AS undecided FROM ${s}.billing_jobs
     WHERE lane = 'usage' AND payload->>'day' BETWEEN $1 AND $2 GROUP BY 1, 2, 3`,
    [options.fromDay, options.toDay],
  );
  const key = (tenantId: string, day: string, meter: string) => `${tenantId} ${day} ${meter}`;
  const reported = new Map(reports.map((r) => [key(r.tenant_id, r.day, r.meter), Number(r.value)]));
  const pending = new Map(pendingRows.map((r) => [key(r.tenant_id, r.day, r.meter), Number(r.value)]));
  const refused = new Map(pendingRows.map((r) => [key(r.tenant_id, r.day, r.meter), Number(r.refused)]));
  const undecided = new Map(pendingRows.map((r) => [key(r.tenant_id, r.day, r.meter), Number(r.undecided)]));
  const all = new Map<string, { tenantId: string; day: string; meter: UsageDifference['meter']; used: number }>();
  for (const u of used) {
    all.set(key(u.tenantId, u.day, 'messages'), { tenantId: u.tenantId, day: u.day, meter: 'messages', used: u.messages });
    all.set(key(u.tenantId, u.day, 'knight_minutes'), { tenantId: u.tenantId, day: u.day, meter: 'knight_minutes', used: u.knightMinutes });
  }
  for (const r of reports) {
    const k = key(r.tenant_id, r.day, r.meter);
    if (!all.has(k) && isMeter(r.meter)) all.set(k, { tenantId: r.tenant_id, day: r.day, meter: r.meter, used: 0 });
  }
  const differences: UsageDifference[] = [];
  for (const [k, u] of all) {
    const r = reported.get(k) ?? 0;
    if (r !== u.used) differences.push({ ...u, reported: r, pending: pending.get(k) ?? 0, refused: refused.get(k) ?? 0, undecided: undecided.get(k) ?? 0 });
  }
  differences.sort((a, b) => a.day.localeCompare(b.day) || a.tenantId.localeCompare(b.tenantId) || a.meter.localeCompare(b.meter));
  return { fromDay: options.fromDay, toDay: options.toDay, tenantDays: new Set(used.map((u) => `${u.tenantId} ${u.day}`)).size, differences };
};
