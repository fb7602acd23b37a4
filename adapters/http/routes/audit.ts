import { z } from 'zod';
import { notFound } from '../http-error.ts';
import { AppError } from '../../../domain/shared/errors.ts';
import type { AuditLog } from '../../audit/service.ts';
import { defineRoute, tenantIdParam } from './route.ts';
import type { RouteContext } from './route.ts';

const tag = 'audit';
const NDJSON = 'application/x-ndjson';
const readers = ['auditor', 'tenant'] as const;
const position = z.string().regex(/^\d{1,30}$/, 'must be a decimal log position').transform(BigInt);

/** `tenantId` may name the caller's own tenant; any other is answered as if it did not exist. */
const ownTenant = z.object({ tenantId: tenantIdParam.optional() });

const tenantOf = (ctx: RouteContext<unknown, { tenantId?: string | undefined }, unknown>): string => {
  if (ctx.query.tenantId !== undefined && ctx.query.tenantId !== ctx.tenantId) throw notFound('tenant_not_found', 'tenant not found');
  return ctx.tenantId;
};

const auditOf = (audit: AuditLog | undefined): AuditLog => {
  if (!audit) throw new AppError('unavailable', 'audit_unavailable', 'this process does not serve the audit log');
  return audit;
};

const eventsQuery = ownTenant.extend({ from: position.optional(), to: position.optional() });

/** `asOf`: a decimal log position, or an ISO 8601 time with its offset. */
const asOfQuery = ownTenant.extend({
  asOf: z.union([
    position.transform((p) => ({ position: p })),
    z.iso.datetime({ offset: true }).transform((t) => ({ time: new Date(t) })),
  ], { error: 'must be a decimal log position or an ISO 8601 time with offset (e.g. 2026-03-03T00:00:00Z)' }).optional(),
});

/** Positions and big numbers as strings in JSON. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

export const auditRoutes = [
  defineRoute({
    method: 'get', path: '/audit/events', tag,
    summary: "The tenant's events across its streams in log order, as NDJSON: data as stored (sealed fields stay ciphertext) with each event's chain hash; `from`/`to` are inclusive positions (resume with the last position + 1); with `from`, each stream's first line past revision 0 also carries `prev` (the hash of the event before it), so the answer verifies as delivered (`audit verify --file`)",
    scopes: readers, tenant: 'credential', query: eventsQuery, status: 200, produces: NDJSON,
    handle: async (ctx) => {
      const tenantId = tenantOf(ctx);
      const range = { ...(ctx.query.from !== undefined ? { from: ctx.query.from } : {}), ...(ctx.query.to !== undefined ? { to: ctx.query.to } : {}) };
      return { body: null, stream: { contentType: `${NDJSON}; charset=utf-8`, chunks: auditOf(ctx.deps.audit).events(tenantId, range) } };
    },
  }),
  defineRoute({
    method: 'get', path: '/audit/digest', tag,
    summary: "Recomputes the tenant's hash chains and returns its digest (each stream's head and a root over them) to keep elsewhere",
    scopes: readers, tenant: 'credential', query: ownTenant, status: 200,
    handle: async (ctx) => {
      const { report, digest } = await auditOf(ctx.deps.audit).digest(tenantOf(ctx));
      return { body: { verified: report.break === undefined, break: report.break ?? null, digest } };
    },
  }),
  defineRoute({
    method: 'get', path: '/audit/state', tag,
    summary: "The tenant's aggregates as they stood at a log position or a time, folded from the log (not the read models); a point in the future gives the current state with `future: true`",
    scopes: readers, tenant: 'credential', query: asOfQuery, status: 200,
    handle: async (ctx) => {
      const asOf = ctx.query.asOf ?? { time: new Date() };
      return { body: plain(await auditOf(ctx.deps.audit).stateAsOf(tenantOf(ctx), asOf)) };
    },
  }),
];
