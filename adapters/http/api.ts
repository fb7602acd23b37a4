import express from 'express';
import type { RequestHandler, Router } from 'express';
import { trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { GatewayPolicy } from '../../commands/agents/agent-gateway.ts';
import type { CommandPorts } from '../../commands/context.ts';
import type { ChannelPlatforms } from '../../domain/ports/channels.ts';
import type { BillingLinks } from '../../domain/ports/billing.ts';
import type { VmProvider } from '../../domain/ports/vm-provider.ts';
import type { Tier } from '../../domain/tiers.ts';
import type { ReadSide } from '../../projections/read-side.ts';
import type { AuditLog } from '../audit/service.ts';
import type { Auth } from '../auth/index.ts';
import { rateLimit } from '../limits/index.ts';
import type { RateLimits } from '../limits/index.ts';
import { BODY_LIMIT_BYTES, jsonBody } from './body.ts';
import { dispatch } from './dispatch.ts';
import { notFoundHandler, problemMiddleware } from './problem.ts';
import { contextOf, requestContext } from './request-context.ts';
import { series } from './series.ts';
import { API_ROUTES } from './routes/index.ts';
import type { ApiRoute } from './routes/index.ts';

export interface ApiRouterDeps {
  readonly ports: CommandPorts;
  readonly reads: ReadSide;
  readonly auth: Auth;
  readonly vms?: VmProvider | undefined;
  readonly audit?: AuditLog | undefined;
  readonly channels?: ChannelPlatforms | undefined;
  readonly billing?: BillingLinks | undefined;
  readonly limits: { readonly rates: RateLimits; readonly tierOf: (tenantId: string) => Promise<Tier>; readonly bodyLimitBytes?: number };
  readonly log: Logger;
  /** Which gateway URLs a tenant may connect; without it, only public addresses. */
  readonly gatewayPolicy?: GatewayPolicy | undefined;
  /** Defaults to the whole route table. */
  readonly routes?: readonly ApiRoute[];
}

/**
 * One line per API request when its answer is sent: method, route pattern (never the raw path),
 * status, duration, request id, the tenant it acted on (when its route named one) and the trace
 * of its server span.
 */
const accessLog =
  (log: Logger): RequestHandler =>
  (req, res, next) => {
    const started = process.hrtime.bigint();
    const span = trace.getActiveSpan()?.spanContext();
    const traced = span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
    res.once('finish', () => {
      const { requestId, tenantId } = contextOf(req);
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      log.info({ method: req.method, route, status: res.statusCode, ms, requestId, ...(tenantId ? { tenantId } : {}), ...traced }, 'request');
    });
    next();
  };

/**
 * The `/api/v1` router. Per route: authenticate → rate limit → scope → JSON body → validate →
 * handler. Its own 404 and problem middleware make it self-contained wherever it is mounted.
 */
export const createApiRouter = (deps: ApiRouterDeps): Router => {
  const router = express.Router({ strict: false, caseSensitive: true });
  router.use(
    series([
      requestContext(),
      accessLog(deps.log),
      (_req, res, next) => {
        res.setHeader('Cache-Control', 'no-store');
        next();
      },
    ]),
  );
  const limited = rateLimit({ limits: deps.limits.rates, tierOf: deps.limits.tierOf });
  const body = jsonBody(deps.limits.bodyLimitBytes ?? BODY_LIMIT_BYTES);
  for (const route of deps.routes ?? API_ROUTES) {
    const chain = [deps.auth.authenticate, limited, deps.auth.requireScope(route.scopes), ...(route.method === 'post' ? body : [])];
    router[route.method](route.path, series([...chain, dispatch(route, { ports: deps.ports, reads: deps.reads, auth: deps.auth, vms: deps.vms, audit: deps.audit, channels: deps.channels, billing: deps.billing, gatewayPolicy: deps.gatewayPolicy })]));
  }
  router.use(notFoundHandler);
  router.use(problemMiddleware(deps.log));
  return router;
};
