import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';

/** The `connect-src` directive of the dashboard page's Content-Security-Policy. */
const connectSrc = async (baseUrl: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${baseUrl}/`, { headers });
  expect(res.status).toBe(200);
  return (res.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src'));
};

// The dashboard's CSP over plain http and behind a TLS proxy: a page served over https may only open wss:.
describe('dashboard Content-Security-Policy', () => {
  let behindProxy: ApiHarness;
  let direct: ApiHarness;
  beforeAll(async () => {
    // as deployed behind nginx on the same host or network (infra/docker-compose.yml)
    [behindProxy, direct] = await Promise.all([startApiHarness({ TRUST_PROXY: 'loopback, uniquelocal' }), startApiHarness()]);
  }, 60_000);
  afterAll(async () => {
    await behindProxy?.close();
    await direct?.close();
  });

  it('served over https by a trusted TLS proxy, the page may open wss: to its own host and never ws:', async () => {
    const host = new URL(behindProxy.baseUrl).host;
    const directive = await connectSrc(behindProxy.baseUrl, { 'x-forwarded-proto': 'https' });
    expect(directive).toBe(`connect-src 'self' wss://${host}`);
    for (const asset of ['/dashboard/dashboard.js', '/dashboard/dashboard.css']) {
      const res = await fetch(`${behindProxy.baseUrl}${asset}`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(`${asset}: ${res.headers.get('content-security-policy')}`).not.toMatch(/\bws:\/\//);
    }
  });

  it('served over plain http, the page may open ws: or wss: to its own host', async () => {
    const host = new URL(behindProxy.baseUrl).host;
    await expect(connectSrc(behindProxy.baseUrl)).resolves.toBe(`connect-src 'self' ws://${host} wss://${host}`);
    await expect(connectSrc(behindProxy.baseUrl, { 'x-forwarded-proto': 'http' })).resolves.toBe(`connect-src 'self' ws://${host} wss://${host}`);
  });

  it('without TRUST_PROXY, X-Forwarded-Proto is ignored: the request came over plain http', async () => {
    const host = new URL(direct.baseUrl).host;
    await expect(connectSrc(direct.baseUrl, { 'x-forwarded-proto': 'https' })).resolves.toBe(`connect-src 'self' ws://${host} wss://${host}`);
  });
});
