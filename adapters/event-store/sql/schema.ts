/**
 * The event log schema, shared by the PostgreSQL and the embedded (PGlite) adapters.
 *
 * Positions: `(xid << 20) + ordinal-in-transaction`. A subscriber only reads positions below
 * `pg_snapshot_xmin(pg_current_snapshot()) << 20`: every transaction with a lower xid has finished,
 * so no event can later commit below what a subscriber has already seen. This is the
 * transaction-id/snapshot technique; a plain sequence would let a slow commit land behind a
 * subscriber's checkpoint and be skipped forever.
 */
export const POSITION_SHIFT = 20n;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export const checkSchemaName = (schema: string): string => {
  if (!IDENTIFIER.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  return schema;
};

/**
 * `ddl` (run with `exec`: several statements in one message, so one implicit transaction) behind a
 * transaction-level advisory lock on `schema`. `CREATE … IF NOT EXISTS` is not safe against itself:
 * two processes starting at once on an empty database (the roles of a fresh deployment) both see no
 * schema or table and one fails on the catalog's unique index (`pg_namespace_nspname_index`). Every
 * table set that creates a schema takes this lock first, so they create it one at a time.
 */
export const ddlUnderSchemaLock = (schema: string, ddl: string): string => `SELECT pg_advisory_xact_lock(hashtext('schema-ddl:${checkSchemaName(schema)}'));\n${ddl}`;

export const eventLogMigration = (schema: string): string => {
  const s = checkSchemaName(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};

CREATE TABLE IF NOT EXISTS ${s}.streams (
  stream_id text PRIMARY KEY,
  revision bigint NOT NULL, -- -1: reserved by a failed or in-flight first append, holds no event
  head bytea -- hash of the event at that revision (the chain's head); null before the first event
);
ALTER TABLE ${s}.streams ADD COLUMN IF NOT EXISTS head bytea;

CREATE TABLE IF NOT EXISTS ${s}.events (
  position bigint PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  stream_id text NOT NULL,
  revision bigint NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  tenant_id text NOT NULL,
  category text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  hash bytea, -- sha256(previous event's hash ‖ content hash): the stream's hash chain (docs/audit.md)
  UNIQUE (stream_id, revision)
);
ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS hash bytea;
CREATE INDEX IF NOT EXISTS events_tenant_position ON ${s}.events (tenant_id, position);

-- The visibility horizon: positions below it can never be joined by a later commit.
CREATE OR REPLACE FUNCTION ${s}.horizon() RETURNS bigint LANGUAGE sql STABLE AS $f$
  SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint) << ${POSITION_SHIFT}
$f$;

-- One link of a stream's hash chain, as a running aggregate: the first row starts from the stream's
-- head (or 32 zero bytes for a new stream), each next row from the row before.
CREATE OR REPLACE FUNCTION ${s}.chain_step(state bytea, head bytea, content bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT sha256(coalesce(state, head, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) || content)
$f$;
CREATE OR REPLACE AGGREGATE ${s}.hash_chain(bytea, bytea) (SFUNC = ${s}.chain_step, STYPE = bytea);

-- One call appends a whole batch of appends (group commit). Each append's expected revision is
-- checked on its own; a refused append writes nothing and does not affect the others.
-- Input: [{"s": stream, "x": expected, "t": tenant, "c": category, "e": [{"id","ty","d","m","h"[,"r"]}]}]
-- ("h": the event's content hash, hex — absent only in the benchmark's unchained mode; "r": its
-- original recording time, restores only).
-- Each event's chain hash links to the stream's head read under the stream's row lock taken below,
-- in the same transaction as the expected-revision check: the chain cannot fork.
CREATE OR REPLACE FUNCTION ${s}.append_batch(p jsonb)
RETURNS TABLE(idx int, status text, revision bigint, pos bigint) LANGUAGE plpgsql
-- Cached plans are made once per connection; one made while the log was small would keep scanning
-- it sequentially after it has grown. Every lookup here is by a unique key: always use the index.
SET enable_seqscan = off AS $f$
DECLARE
  base bigint := (pg_current_xact_id()::text::bigint) << ${POSITION_SHIFT};
  cur jsonb;
  heads jsonb;
  ids uuid[];
  sids text[];
BEGIN
  SELECT array_agg(x->>'s') INTO sids FROM jsonb_array_elements(p) x;
  SELECT array_agg((ev->>'id')::uuid) INTO ids FROM jsonb_array_elements(p) x, jsonb_array_elements(x->'e') ev;

  -- Lock every stream of the batch in a fixed order (no deadlocks between batches); create a
  -- placeholder row for a new stream so that two first appends serialise on it.
  WITH locked AS (
    INSERT INTO ${s}.streams AS st (stream_id, revision)
    SELECT DISTINCT x->>'s', -1 FROM jsonb_array_elements(p) x ORDER BY 1
    ON CONFLICT (stream_id) DO UPDATE SET revision = st.revision
    RETURNING st.stream_id, st.revision, st.head
  )
  SELECT jsonb_object_agg(locked.stream_id, locked.revision), jsonb_object_agg(locked.stream_id, encode(locked.head, 'hex'))
  INTO cur, heads FROM locked;

  RETURN QUERY
  WITH a AS (
    SELECT (o - 1)::int AS i, x->>'s' AS sid, x->'x' AS exp, x->>'t' AS tenant, x->>'c' AS cat, x->'e' AS evs,
           jsonb_array_length(x->'e') AS n, (cur->>(x->>'s'))::bigint AS current, decode(heads->>(x->>'s'), 'hex') AS head
    FROM jsonb_array_elements(p) WITH ORDINALITY AS t(x, o)
  ),
  known AS MATERIALIZED (
    SELECT e.event_id, e.stream_id, e.revision, e.position FROM ${s}.events e WHERE e.event_id = ANY (ids)
  ),
  dup AS (
    SELECT a.i, count(*) AS found, bool_and(e.stream_id = a.sid) AS same_stream,
           max(e.revision) AS rev, max(e.position) AS epos
    FROM a CROSS JOIN LATERAL jsonb_array_elements(a.evs) AS ev
    JOIN known e ON e.event_id = (ev->>'id')::uuid
    GROUP BY a.i
  ),
  judged AS (
    SELECT a.*, d.rev AS dup_rev, d.epos AS dup_pos,
      CASE
        WHEN d.found IS NOT NULL AND d.found = a.n AND d.same_stream THEN 'duplicate'
        WHEN d.found IS NOT NULL THEN 'idempotency_mismatch'
        WHEN a.exp = '"any"'::jsonb THEN 'ok'
        WHEN a.exp = '"no_stream"'::jsonb THEN CASE WHEN a.current = -1 THEN 'ok' ELSE 'conflict' END
        WHEN a.exp = '"stream_exists"'::jsonb THEN CASE WHEN a.current >= 0 THEN 'ok' ELSE 'conflict' END
        WHEN (a.exp #>> '{}')::bigint = a.current THEN 'ok'
        ELSE 'conflict'
      END AS st
    FROM a LEFT JOIN dup d ON d.i = a.i
  ),
  rws AS (
    SELECT j.i, j.sid, j.tenant, j.cat, j.current + e.o AS rev, e.ev,
           row_number() OVER (ORDER BY j.i, e.o) AS k,
           ${s}.hash_chain(j.head, decode(e.ev->>'h', 'hex')) FILTER (WHERE e.ev ? 'h') OVER (PARTITION BY j.i ORDER BY e.o) AS hash
    FROM judged j CROSS JOIN LATERAL jsonb_array_elements(j.evs) WITH ORDINALITY AS e(ev, o)
    WHERE j.st = 'ok'
  ),
  ins AS (
    INSERT INTO ${s}.events (position, event_id, stream_id, revision, type, data, metadata, tenant_id, category, recorded_at, hash)
    SELECT base + rws.k, (rws.ev->>'id')::uuid, rws.sid, rws.rev, rws.ev->>'ty', rws.ev->'d', rws.ev->'m', rws.tenant, rws.cat,
           coalesce((rws.ev->>'r')::timestamptz, now()), rws.hash
    FROM rws
    RETURNING 1
  ),
  -- data-modifying CTEs always run to completion, read or not
  up AS (
    UPDATE ${s}.streams st SET revision = m.rev, head = m.head
    FROM (SELECT DISTINCT ON (rws.sid) rws.sid, rws.rev, rws.hash AS head FROM rws ORDER BY rws.sid, rws.rev DESC) m
    WHERE st.stream_id = ANY (sids) AND st.stream_id = m.sid
    RETURNING 1
  )
  SELECT j.i, j.st,
    CASE j.st WHEN 'ok' THEN j.current + j.n WHEN 'duplicate' THEN j.dup_rev ELSE j.current END,
    CASE j.st WHEN 'ok' THEN (SELECT base + max(r.k) FROM rws r WHERE r.i = j.i)
              WHEN 'duplicate' THEN j.dup_pos END
  FROM judged j
  ORDER BY j.i;
  -- No NOTIFY here: NOTIFY takes a database-wide lock held through the commit's WAL flush, which
  -- would serialise every append. The writer notifies after its commit instead (see store.ts).
END
$f$;
`;
};
