import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Express } from 'express';
import { DEFAULT_READY_BOUNDS, httpTelemetry, readyRoute } from '../telemetry/http.ts';
import type { ReadyBounds } from '../telemetry/http.ts';
import { healthRoute } from './health.ts';
import { securityHeaders } from './security-headers.ts';
import type { Readiness } from './health.ts';

export interface HttpServer {
  readonly app: Express;
  readonly url: string;
  /** The Node server itself, for what shares its port beside express (WebSocket upgrades). */
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Listens at once, so /healthz answers while the rest of the process is still starting. */
export const startHttpServer = async (options: { port: number; host: string; readiness: Readiness; ready?: ReadyBounds; trustProxy?: string | undefined }): Promise<HttpServer> => {
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY: express then takes req.ip from X-Forwarded-For, but only as far back as the trusted hops
  if (options.trustProxy !== undefined) app.set('trust proxy', /^\d+$/.test(options.trustProxy) ? Number(options.trustProxy) : options.trustProxy);
  // API answers are Cache-Control: no-store, so an ETag (a SHA-1 of every body) buys nothing.
  app.set('etag', false);
  app.use(httpTelemetry(), securityHeaders());
  app.get('/healthz', healthRoute(options.readiness));
  app.get('/readyz', readyRoute(() => options.readiness().ready, options.ready ?? DEFAULT_READY_BOUNDS));
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    app,
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
};
