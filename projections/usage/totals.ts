import { asProjector } from '../provisioning-reads.ts';
import type { TxDb } from '../provisioning-reads.ts';

/** One tenant's usage on one UTC day, as the `usage` read model counts it. */
export interface UsageTotal {
  readonly tenantId: string;
  readonly day: string;
  readonly messages: number;
  /** Ended knights' time from provisioned to ended, each rounded up to whole minutes, by the day it ended. */
  readonly knightMinutes: number;
}

/**
 * Every tenant's usage on the days from `fromDay` to `toDay` (inclusive, YYYY-MM-DD), across
 * tenants, so it reads as the projector role: for billing's reconciliation, never for an API client.
 */
export const usageTotals = (db: TxDb, schema: string, fromDay: string, toDay: string): Promise<UsageTotal[]> =>
  asProjector(db, async (tx) => {
    const { rows } = await tx.query<{ tenant_id: string; day: string; messages: string; minutes: string }>(
      `WITH m AS (
         SELECT tenant_id, day, messages FROM ${schema}.usage_daily WHERE day BETWEEN $1::date AND $2::date),
       k AS (
         SELECT tenant_id, (ended_at AT TIME ZONE 'UTC')::date AS day, sum(ceil(extract(epoch FROM ended_at - started_at) / 60)) AS minutes
         FROM ${schema}.knight_usage WHERE ended_at IS NOT NULL AND (ended_at AT TIME ZONE 'UTC')::date BETWEEN $1::date AND $2::date
         GROUP BY 1, 2)
       SELECT coalesce(m.tenant_id, k.tenant_id) AS tenant_id, to_char(coalesce(m.day, k.day), 'YYYY-MM-DD') AS day,
              coalesce(m.messages, 0) AS messages, coalesce(k.minutes, 0) AS minutes
       FROM m FULL JOIN k ON m.tenant_id = k.tenant_id AND m.day = k.day`,
      [fromDay, toDay],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, day: r.day, messages: Number(r.messages), knightMinutes: Number(r.minutes) }));
  });
