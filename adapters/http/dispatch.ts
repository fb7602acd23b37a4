import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Caller } from '../../commands/context.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import type { ReadSide } from '../../projections/read-side.ts';
import { actorOf } from '../auth/principal.ts';
import { principalOf } from '../auth/authenticate.ts';
import { withLogFields } from '../telemetry/log-context.ts';
import { badRequest } from './http-error.ts';
import { issuesOf } from './problem.ts';
import { contextOf, idempotencyOf } from './request-context.ts';
import { derivedId } from './routes/route.ts';
import type { ApiRoute, RouteContext, RouteDeps, RouteReply } from './routes/route.ts';

/** How long a GET with `minPosition` waits for the read models before answering anyway. */
export const READ_YOUR_WRITES_TIMEOUT_MS = 2_000;

const parse = (where: 'path' | 'query' | 'body', schema: z.ZodType | undefined, value: unknown): unknown => {
  if (!schema) return {};
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw badRequest(`invalid_${where}`, `the request ${where} is invalid`, { errors: issuesOf(result.error) });
};

/** Waits for `minPosition`; when the read models are still behind, says so in headers and answers anyway. */
const awaitFreshness = async (reads: ReadSide, res: Response, minPosition: unknown) => {
  if (typeof minPosition !== 'bigint') return;
  const freshness = await reads.waitFor(minPosition, READ_YOUR_WRITES_TIMEOUT_MS);
  if (freshness.reached) return;
  res.setHeader('X-Read-Model-Lag', String(freshness.behindEvents));
  res.setHeader('X-Read-Model-Position', freshness.position === undefined ? '' : freshness.position.toString());
};

/**
 * Writes chunks as they come, waiting when the client reads slower than the log is read. A failure
 * after the first chunk cannot become a problem document any more: the response is cut short
 * (the client sees an incomplete chunked body, never a truncated stream that looks complete).
 */
const streamReply = async (res: Response, status: number, stream: NonNullable<RouteReply['stream']>) => {
  const chunks = stream.chunks[Symbol.asyncIterator]();
  const first = await chunks.next(); // a failure before anything is written still becomes a problem document
  res.status(status).setHeader('Content-Type', stream.contentType);
  try {
    for (let next = first; !next.done; next = await chunks.next()) {
      if (res.destroyed) break;
      if (!res.write(next.value))
        await new Promise<void>((resolve) => {
          // whichever comes first removes both: one listener pair per wait would pile up over a long export
          const done = () => (res.off('drain', done), res.off('close', done), resolve());
          res.once('drain', done);
          res.once('close', done);
        });
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    await chunks.return?.();
  }
};

/** Validates path, query and body against the route's schemas, builds the Caller, runs the handler. */
export const dispatch =
  (route: ApiRoute, deps: RouteDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const principal = principalOf(req);
    const params = parse('path', route.params, req.params) as Record<string, unknown>;
    const query = parse('query', route.query, req.query) as Record<string, unknown>;
    const body = route.method === 'post' ? parse('body', route.body, req.body) : {};
    const idempotency = route.method === 'get' ? undefined : idempotencyOf(req, principal);
    const requestTenant: TenantId | null =
      route.tenant === 'credential' ? principal.tenantId : route.tenant === 'path' ? (params.tenantId as TenantId) : null;
    const request = contextOf(req);
    const { requestId, traceparent } = request;
    if (requestTenant !== null) request.tenantId = requestTenant;
    const caller = (tenantId: TenantId | null = requestTenant): Caller => {
      if (tenantId === null) throw new Error(`route ${route.path} has no tenant`);
      return {
        tenantId,
        actor: actorOf(principal),
        correlationId: requestId,
        causationId: null,
        ...(traceparent ? { traceparent } : {}),
        ...(idempotency ? { idempotency } : {}),
      };
    };
    const context: RouteContext<unknown, unknown, unknown> = {
      params,
      query,
      body,
      principal,
      get tenantId(): TenantId {
        if (requestTenant === null) throw new Error(`route ${route.path} has no tenant`);
        return requestTenant;
      },
      caller,
      newId: (kind) => (idempotency && requestTenant ? derivedId(kind, requestTenant, idempotency.key) : deps.ports.newId()),
      deps,
    };
    if (route.method === 'get') await awaitFreshness(deps.reads, res, query.minPosition);
    // every line logged while the handler runs names the tenant and the request
    const reply = await withLogFields({ requestId, ...(requestTenant !== null ? { tenantId: requestTenant } : {}) }, () => route.handle(context));
    if (reply.duplicate) res.setHeader('Idempotent-Replayed', 'true');
    if (reply.stream) return streamReply(res, reply.status ?? route.status, reply.stream);
    res.status(reply.status ?? route.status).json(reply.body);
  };
