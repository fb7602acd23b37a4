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
  /**
   * The client of a request that did not pass through express (a WebSocket upgrade), by the same
   * TRUST_PROXY rule as express's `req.ip`: the nearest address in `X-Forwarded-For` that is not a
   * trusted proxy; without TRUST_PROXY, the socket's.
   */
  clientAddressOf(req: http.IncomingMessage): string | undefined;
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
  // express compiles the setting into this function (used for req.ip): one rule for both paths
  const trusted = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  const clientAddressOf = (req: http.IncomingMessage): string | undefined => {
    const socket = req.socket.remoteAddress;
    if (options.trustProxy === undefined || socket === undefined) return socket;
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '')
      .reverse();
    const chain = [socket, ...forwarded];
    for (let hop = 0; hop < chain.length - 1; hop++) if (!trusted(chain[hop]!, hop)) return chain[hop];
    return chain[chain.length - 1];
  };
  return {
    app,
    server,
    clientAddressOf,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
};
