import { readFileSync } from 'node:fs';
import { Router } from 'express';
import type { Request, Response } from 'express';

const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
} as const;

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * Scripts and styles from this origin only (no inline script, no eval), nothing framed, no forms
 * posted anywhere. `connect-src` names the socket's origin besides 'self' for browsers whose 'self'
 * does not cover WebSocket schemes: on a page served over https only `wss://`, so the page can never
 * open an unencrypted socket; over plain http `ws://` and `wss://`.
 */
export const dashboardCsp = (host: string | undefined, secure: boolean): string => {
  const sockets = host && HOST.test(host) ? (secure ? ` wss://${host}` : ` ws://${host} wss://${host}`) : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
};

/** GET / (the live dashboard, docs/live.md) and its two assets, read once at start. */
export const createDashboardRouter = (): Router => {
  const router = Router();
  for (const [path, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(new URL(`./dashboard/${asset.file}`, import.meta.url));
    router.get(path, (req: Request, res: Response) => {
      res.set({
        'Content-Type': asset.type,
        // req.secure: TLS on this socket, or X-Forwarded-Proto: https from a TRUST_PROXY peer
        'Content-Security-Policy': dashboardCsp(req.get('host'), req.secure),
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-cache',
      });
      res.send(body);
    });
  }
  return router;
};
