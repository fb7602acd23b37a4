import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Request, RequestHandler, Response } from 'express';
import { readiness } from './health.ts';
import { observeHttp, registry } from './metrics.ts';
import { startServerSpan } from './tracing.ts';

export interface ReadyBounds {
  readonly maxLagSeconds: number;
  readonly maxLagEvents: number;
}

/** READY_MAX_LAG_SECONDS / READY_MAX_LAG_EVENTS defaults. */
export const DEFAULT_READY_BOUNDS: ReadyBounds = { maxLagSeconds: 60, maxLagEvents: 10_000 };

const problem = (res: Response, status: number, code: string, detail: string) =>
  res.status(status).type('application/problem+json').json({ type: `urn:openclaw:problem:${code}`, title: detail, status, code, detail });

/**
 * Whether a request carries the operator's credential. It throws (429 past the failed-attempts budget,
 * 400 for ambiguous credentials) for the app's problem middleware to render.
 */
export type OperatorCheck = (req: Request) => Promise<boolean>;

/**
 * Prometheus text format; with `operator`, only for a request it finds to carry the operator's
 * credential (401 `operator_required` otherwise), and without it, never (only `open` serves it freely).
 */
export const metricsRoute =
  (options: { operator?: OperatorCheck | undefined; open?: boolean }): RequestHandler =>
  async (req, res) => {
    if (!options.open && !(options.operator && (await options.operator(req)))) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      problem(res, 401, 'operator_required', '/metrics needs the operator key as a bearer token (or scrape METRICS_PORT)');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type(registry.contentType).send(await registry.metrics());
  };

/** 200 when the process is up and every dependency and log reader is fine; 503 with each check otherwise. */
export const readyRoute =
  (started: () => boolean | 'stopping', bounds: ReadyBounds): RequestHandler =>
  async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const state = started();
    if (state !== true) {
      res.status(503).json({ status: state === 'stopping' ? 'stopping' : 'starting', checks: {} });
      return;
    }
    const r = await readiness(bounds);
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  };

/** Paths that get no server span (probes and scrapes); they are timed like any other. */
const UNTRACED = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * Every request timed by its route pattern (never the raw path: ids would explode the label set)
 * and, with tracing on, run in a server span of its own (startServerSpan), named by that route.
 */
export const httpTelemetry = (): RequestHandler => (req, res, next) => {
  const started = process.hrtime.bigint();
  const span = UNTRACED.has(req.path) ? undefined : startServerSpan(req);
  res.once('close', () => {
    const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : undefined;
    const completed = res.writableFinished;
    if (completed)
      observeHttp(req.method, route ?? (res.statusCode === 404 ? 'unmatched' : req.baseUrl || 'other'), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    span?.end(route, res.statusCode, completed);
  });
  if (span) span.run(next);
  else next();
};

/**
 * METRICS_PORT: /metrics, /healthz and /readyz with no credentials, on an interface of their
 * own, for Prometheus and probes inside the cluster (roles without HTTP have only this).
 */
export const startTelemetryServer = async (options: { port: number; host: string; started: () => boolean | 'stopping'; bounds: ReadyBounds }) => {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsRoute({ open: true }));
  app.get('/readyz', readyRoute(options.started, options.bounds));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use((_req, res) => void problem(res, 404, 'not_found', 'this port serves /metrics, /healthz and /readyz'));
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
