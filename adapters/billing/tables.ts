import type { SqlDb } from '../event-store/sql/db.ts';
import { checkSchemaName, ddlUnderSchemaLock } from '../event-store/sql/schema.ts';
import type { Meter } from './config.ts';

/**
 * Billing's rows beside the bus checkpoints (EVENT_STORE_SCHEMA):
 * - `billing_jobs`: work the bus consumer handed over, done by the worker with retries, so the
 *   consumer never waits on Stripe. Lane `account` runs one job at a time per tenant, in arrival
 *   order (customer before subscription before a move); lane `usage` runs in parallel.
 * - `billing_customers`: which tenant a Stripe customer is (webhooks name customers), and when a
 *   grace period ends.
 * - `billing_usage_reports`: every meter event Stripe accepted, by identifier: what reconciliation
 *   compares with the `usage` read model.
 */
export interface Job {
  readonly id: string;
  readonly tenantId: string;
  readonly lane: 'account' | 'usage';
  readonly payload: JobPayload;
  readonly attempts: number;
  /** How many times the job's Stripe idempotency key was replaced (a usage report refused, or an idempotency_error). */
  readonly rekeys: number;
  /**
   * A usage report: when it was first sent without a definite answer (written before the send, cleared when Stripe
   * answered that it did nothing), else null. Past Stripe's 24 h dedupe it is never sent again by billing.
   */
  readonly firstSentAt: Date | null;
}

export type JobPayload =
  | { readonly kind: 'created'; readonly tier: string; readonly eventId: string }
  | { readonly kind: 'tier'; readonly tier: string; readonly eventId: string }
  | { readonly kind: 'erased'; readonly eventId: string }
  | { readonly kind: 'tier_from_stripe'; readonly tier: string; readonly eventId: string }
  | { readonly kind: 'checkout'; readonly tier: string; readonly replaces: string | null; readonly eventId: string }
  | { readonly kind: 'cancel_superseded'; readonly subscriptionId: string; readonly eventId: string }
  | { readonly kind: 'suspend'; readonly eventId: string }
  | { readonly kind: 'reinstate'; readonly eventId: string }
  /** `TenantReinstated` (by anyone); `tier`: the tenant's tier at the reinstatement. */
  | { readonly kind: 'reinstated'; readonly tier: string; readonly eventId: string }
  | { readonly kind: 'usage'; readonly meter: Meter; readonly value: number; readonly identifier: string; readonly timestamp: number; readonly day: string };

export interface NewJob {
  readonly id: string;
  readonly tenantId: string;
  readonly lane: Job['lane'];
  readonly payload: JobPayload;
}

export const createBillingTables = async (db: SqlDb, schema: string, instanceId: string) => {
  const s = checkSchemaName(schema);
  await db.exec(ddlUnderSchemaLock(s, `
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.billing_jobs (
      id text PRIMARY KEY,
      seq bigserial NOT NULL,
      tenant_id text NOT NULL,
      lane text NOT NULL,
      payload jsonb NOT NULL,
      due_at timestamptz NOT NULL DEFAULT now(),
      attempts integer NOT NULL DEFAULT 0,
      leased_by text,
      leased_until timestamptz,
      last_error text
    );
    -- refused: Stripe refused the job's last attempt (a 4xx); for a usage report, reconciliation shows it as refused, not catching up
    ALTER TABLE ${s}.billing_jobs ADD COLUMN IF NOT EXISTS refused boolean NOT NULL DEFAULT false;
    -- rekeys: how many times a usage report's idempotency key was replaced (after a refusal or an idempotency_error),
    -- so its next attempt is a new request at Stripe rather than the replay of the answer stored under the old key
    ALTER TABLE ${s}.billing_jobs ADD COLUMN IF NOT EXISTS rekeys integer NOT NULL DEFAULT 0;
    -- first_sent_at: a usage report's first send whose outcome is unknown (a timeout, a 5xx, a lost answer, a crash);
    -- undecided: past Stripe's 24 h dedupe since then, parked for an operator instead of being sent again
    -- added once with now() on every usage report the release before had tried already (attempts > 0): its outcome is
    -- unknown too, and a NULL would let it be sent again past Stripe's dedupe
    DO $migrate$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '${s}.billing_jobs'::regclass AND attname = 'first_sent_at' AND NOT attisdropped) THEN
        ALTER TABLE ${s}.billing_jobs ADD COLUMN first_sent_at timestamptz;
        UPDATE ${s}.billing_jobs SET first_sent_at = now() WHERE lane = 'usage' AND attempts > 0;
      END IF;
    END $migrate$;
    ALTER TABLE ${s}.billing_jobs ADD COLUMN IF NOT EXISTS undecided boolean NOT NULL DEFAULT false;
    CREATE INDEX IF NOT EXISTS billing_jobs_due ON ${s}.billing_jobs (lane, due_at);
    CREATE INDEX IF NOT EXISTS billing_jobs_tenant ON ${s}.billing_jobs (tenant_id, seq);
    CREATE TABLE IF NOT EXISTS ${s}.billing_customers (
      tenant_id text PRIMARY KEY,
      customer_id text NOT NULL UNIQUE,
      closed boolean NOT NULL DEFAULT false,
      grace_ends_at timestamptz
    );
    -- a tenant whose Stripe customer billing set out to create (written before the create is sent): only such a
    -- tenant's erasure, with no customer recorded, replays the create to find (and delete) the one it made.
    -- Created once with a row for every tenant that has an account job then: a create the release before sent
    -- (no row written) whose answer was lost is still recovered by the tenant's erasure.
    DO $migrate$ BEGIN
      IF to_regclass('${s}.billing_customer_creates') IS NULL THEN
        CREATE TABLE ${s}.billing_customer_creates (
          tenant_id text PRIMARY KEY,
          attempted_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO ${s}.billing_customer_creates (tenant_id)
          SELECT DISTINCT tenant_id FROM ${s}.billing_jobs WHERE lane = 'account' ON CONFLICT (tenant_id) DO NOTHING;
      END IF;
    END $migrate$;
    CREATE TABLE IF NOT EXISTS ${s}.billing_usage_reports (
      identifier text PRIMARY KEY,
      tenant_id text NOT NULL,
      meter text NOT NULL,
      day date NOT NULL,
      value numeric NOT NULL,
      reported_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS billing_usage_reports_day ON ${s}.billing_usage_reports (day, tenant_id);`));
  const jobs = `${s}.billing_jobs`;
  const lease = `leased_by = $1, leased_until = now() + interval '5 minutes'`;
  const free = `(j.leased_until IS NULL OR j.leased_until < now())`;
  const toJob = (r: { id: string; tenant_id: string; lane: Job['lane']; payload: JobPayload; attempts: number; rekeys: number; first_sent_at: Date | null }): Job => ({
    id: r.id,
    tenantId: r.tenant_id,
    lane: r.lane,
    payload: r.payload,
    attempts: r.attempts,
    rekeys: r.rekeys,
    firstSentAt: r.first_sent_at === null ? null : new Date(r.first_sent_at),
  });
  return {
    /**
     * Hands work over; a job already handed over (a redelivered event) is not added twice, nor a usage report Stripe
     * accepted already (its job gone: an event the bus delivers again, after an offset reset, maybe past Stripe's
     * 24 h dedupe, would be counted twice).
     */
    async add(batch: readonly NewJob[]): Promise<void> {
      if (batch.length === 0) return;
      await db.query(
        `INSERT INTO ${jobs} (id, tenant_id, lane, payload)
         SELECT e.j->>'id', e.j->>'tenant_id', e.j->>'lane', e.j->'payload' FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(j, ord)
         WHERE NOT (e.j->>'lane' = 'usage' AND EXISTS (SELECT 1 FROM ${s}.billing_usage_reports r WHERE r.identifier = e.j->'payload'->>'identifier'))
         ORDER BY e.ord ON CONFLICT (id) DO NOTHING`,
        [JSON.stringify(batch.map((j) => ({ id: j.id, tenant_id: j.tenantId, lane: j.lane, payload: j.payload })))],
      );
    },
    /** A restarted process takes its own leases back at once (others' expire after 5 minutes). */
    releaseOwn: () => db.query(`UPDATE ${jobs} SET leased_by = NULL, leased_until = NULL WHERE leased_by = $1`, [instanceId]),
    /** Due account jobs, only each tenant's oldest (a tenant's account changes happen in order). */
    async claimAccount(limit: number): Promise<Job[]> {
      const { rows } = await db.query<Parameters<typeof toJob>[0]>(
        `UPDATE ${jobs} SET ${lease} WHERE id IN (
           SELECT j.id FROM ${jobs} j WHERE j.lane = 'account' AND j.due_at <= now() AND ${free}
             AND NOT EXISTS (SELECT 1 FROM ${jobs} k WHERE k.lane = 'account' AND k.tenant_id = j.tenant_id AND k.seq < j.seq)
           ORDER BY j.seq LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_id, lane, payload, attempts, rekeys, first_sent_at`,
        [instanceId, limit],
      );
      return rows.map(toJob);
    },
    /** Due usage reports of tenants whose customer exists (the others wait for it). */
    async claimUsage(limit: number): Promise<Job[]> {
      const { rows } = await db.query<Parameters<typeof toJob>[0]>(
        `UPDATE ${jobs} SET ${lease} WHERE id IN (
           SELECT j.id FROM ${jobs} j WHERE j.lane = 'usage' AND j.due_at <= now() AND ${free}
             AND EXISTS (SELECT 1 FROM ${s}.billing_customers c WHERE c.tenant_id = j.tenant_id)
           ORDER BY j.seq LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_id, lane, payload, attempts, rekeys, first_sent_at`,
        [instanceId, limit],
      );
      return rows.map(toJob);
    },
    done: (id: string) => db.query(`DELETE FROM ${jobs} WHERE id = $1`, [id]),
    /**
     * Tries again after `delayMs`, keeping why it failed (no secrets: Stripe's error message and type)
     * and whether Stripe refused it (a 4xx: trying again will not help until someone fixes the cause).
     * `rekey`: the next attempt uses a new idempotency key (Stripe answered idempotency_error for the old one).
     */
    retry: (id: string, delayMs: number, why: string, refused = false, rekey = false) =>
      db.query(
        `UPDATE ${jobs} SET due_at = now() + make_interval(secs => $2::float8 / 1000), attempts = attempts + 1, leased_by = NULL, leased_until = NULL, last_error = $3, refused = $4,
           rekeys = rekeys + CASE WHEN $5 THEN 1 ELSE 0 END WHERE id = $1`,
        [id, delayMs, why.slice(0, 2_000), refused, rekey],
      ),
    /**
     * A usage report Stripe refused (a 4xx): kept, marked refused, and not due again (`due_at` infinity):
     * the same request would be refused again. `retryRefusedUsage` makes such reports due once more, under a
     * new idempotency key (`rekeys` + 1): Stripe replays the refusal stored under the old one for 24 h.
     */
    park: (id: string, why: string) =>
      db.query(
        `UPDATE ${jobs} SET due_at = 'infinity', attempts = attempts + 1, rekeys = rekeys + 1, leased_by = NULL, leased_until = NULL, last_error = $2, refused = true WHERE id = $1`,
        [id, why.slice(0, 2_000)],
      ),
    /** Stores the timestamp a usage report is sent with (clamped once to billing's clock), so every retry repeats it exactly. */
    setTimestamp: (id: string, timestamp: number) =>
      db.query(`UPDATE ${jobs} SET payload = jsonb_set(payload, '{timestamp}', to_jsonb($2::bigint)) WHERE id = $1`, [id, timestamp]),
    /** Marks a usage report as sent with its outcome unknown yet (before the send), unless marked already. */
    markSent: (id: string, at: Date) => db.query(`UPDATE ${jobs} SET first_sent_at = $2 WHERE id = $1 AND first_sent_at IS NULL`, [id, at.toISOString()]),
    /** Clears that mark: Stripe answered that the send did nothing (a definite refusal with no library retry, see the worker's `didNothing`). */
    unmarkSent: (id: string) => db.query(`UPDATE ${jobs} SET first_sent_at = NULL WHERE id = $1`, [id]),
    /**
     * A usage report sent with an unknown outcome longer ago than Stripe's dedupe: parked for an operator (never
     * due again, not even at billing's start), `undecided` in reconciliation (and no longer `refused`: a refusal
     * before is not its last answer).
     */
    parkUndecided: (id: string, why: string) =>
      db.query(`UPDATE ${jobs} SET due_at = 'infinity', undecided = true, refused = false, leased_by = NULL, leased_until = NULL, last_error = $2 WHERE id = $1`, [id, why.slice(0, 2_000)]),
    /** An erased tenant's usage reports, when billing never made its customer: nothing will bill them. */
    dropUsage: (tenantId: string) => db.query(`DELETE FROM ${jobs} WHERE lane = 'usage' AND tenant_id = $1`, [tenantId]),
    /**
     * Every refused usage report due again, at once (billing's start: the configuration or the customer may
     * have been fixed meanwhile); each keeps its `refused` mark until Stripe answers it. Returns how many.
     */
    async retryRefusedUsage(): Promise<number> {
      const { rows } = await db.query<{ n: string }>(
        `WITH due AS (UPDATE ${jobs} SET due_at = now() WHERE lane = 'usage' AND refused AND NOT undecided AND due_at = 'infinity' RETURNING 1) SELECT count(*) AS n FROM due`,
      );
      return Number(rows[0]?.n ?? 0);
    },
    /** A usage report Stripe accepted: recorded and its job gone, in one transaction. */
    async reported(job: Job, meter: Meter, identifier: string, day: string, value: number): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO ${s}.billing_usage_reports (identifier, tenant_id, meter, day, value) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (identifier) DO NOTHING`,
          [identifier, job.tenantId, meter, day, value],
        );
        await tx.query(`DELETE FROM ${jobs} WHERE id = $1`, [job.id]);
      });
    },
    /** Usage reports parked undecided, per meter. */
    async undecidedUsage(): Promise<{ meter: string; count: number }[]> {
      const { rows } = await db.query<{ meter: string; count: string }>(
        `SELECT payload->>'meter' AS meter, count(*) AS count FROM ${jobs} WHERE lane = 'usage' AND undecided GROUP BY 1`,
      );
      return rows.map((r) => ({ meter: r.meter, count: Number(r.count) }));
    },
    async pending(): Promise<{ lane: string; count: number; failing: number }[]> {
      const { rows } = await db.query<{ lane: string; count: string; failing: string }>(
        `SELECT lane, count(*) AS count, count(*) FILTER (WHERE attempts > 0) AS failing FROM ${jobs} GROUP BY lane`,
      );
      return rows.map((r) => ({ lane: r.lane, count: Number(r.count), failing: Number(r.failing) }));
    },
    customers: customersTable(db, s),
  };
};

/** Which tenant a Stripe customer is; the API process (webhooks, self-service) reads it too. */
export const customersTable = (db: SqlDb, schema: string) => {
  const table = `${checkSchemaName(schema)}.billing_customers`;
  const creates = `${checkSchemaName(schema)}.billing_customer_creates`;
  return {
    /** Marks the tenant's customer create as attempted, before it is sent (kept: the mark is what the erasure asks about). */
    async markCreateAttempted(tenantId: string): Promise<void> {
      await db.query(`INSERT INTO ${creates} (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING`, [tenantId]);
    },
    /** Did billing ever set out to create the tenant's customer? */
    async createAttempted(tenantId: string): Promise<boolean> {
      const { rows } = await db.query(`SELECT 1 FROM ${creates} WHERE tenant_id = $1`, [tenantId]);
      return rows.length > 0;
    },
    async link(tenantId: string, customerId: string): Promise<void> {
      await db.query(`INSERT INTO ${table} (tenant_id, customer_id) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`, [tenantId, customerId]);
    },
    /** The customer linked to the tenant (recorded or not). */
    async customerOf(tenantId: string): Promise<string | undefined> {
      const { rows } = await db.query<{ customer_id: string }>(`SELECT customer_id FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      return rows[0]?.customer_id;
    },
    async tenantOf(customerId: string): Promise<string | undefined> {
      const { rows } = await db.query<{ tenant_id: string }>(`SELECT tenant_id FROM ${table} WHERE customer_id = $1 AND NOT closed`, [customerId]);
      return rows[0]?.tenant_id;
    },
    close: (tenantId: string) => db.query(`UPDATE ${table} SET closed = true, grace_ends_at = NULL WHERE tenant_id = $1`, [tenantId]),
    graceEnds: (tenantId: string, at: string | null) => db.query(`UPDATE ${table} SET grace_ends_at = $2 WHERE tenant_id = $1`, [tenantId, at]),
    /** Sets the grace period's end to `next` only where the column holds a time already past `now` (a newer failure's end is left alone). */
    graceResync: (tenantId: string, now: Date, next: string | null) =>
      db.query(`UPDATE ${table} SET grace_ends_at = $3 WHERE tenant_id = $1 AND grace_ends_at <= $2`, [tenantId, now.toISOString(), next]),
    async graceOver(now: Date): Promise<string[]> {
      const { rows } = await db.query<{ tenant_id: string }>(`SELECT tenant_id FROM ${table} WHERE grace_ends_at <= $1 AND NOT closed`, [now.toISOString()]);
      return rows.map((r) => r.tenant_id);
    },
  };
};

export type BillingTables = Awaited<ReturnType<typeof createBillingTables>>;
