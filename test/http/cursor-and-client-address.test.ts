import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client } from './support/client.ts';
import type { Client } from './support/client.ts';
import { newTenant, tokenFor } from './support/journey.ts';
import { createPusher } from '../../adapters/ws/pusher.ts';
import { createInProcessLiveFeed } from '../../adapters/live/in-process.ts';
import { createLogger } from '../../runtime/logger.ts';
import { connect } from '../ws/support.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

// Client mistakes that must not become 500s, and the per-address auth-failure limit behind a proxy.
describe('cursors and client addresses', () => {
  let h: ApiHarness;
  let operator: Client;
  beforeAll(async () => {
    // as deployed behind nginx on the same host or network (infra/docker-compose.yml)
    h = await startApiHarness({ AUTH_FAILURES_PER_MINUTE: '5', TRUST_PROXY: 'loopback, uniquelocal' });
    operator = client(h.baseUrl, h.operatorKey);
  });
  afterAll(() => h?.close());

  it('a cursor whose position is beyond bigint is 400 invalid_cursor, not a 500', async () => {
    const { key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const cursor = b64('9999999999999999999'); // 19 digits: passes the decoder's \d{1,19}, overflows int8
    for (const path of [`/conversations?cursor=${cursor}`, `/knights?cursor=${cursor}`])
      expect(await me.get(path).then((r) => [path, r.status, r.body.code])).toEqual([path, 400, 'invalid_cursor']);
  });

  it("behind the TLS proxy (X-Forwarded-For), one client's failed logins do not lock out every other client", async () => {
    const { key } = await newTenant(operator);
    const attacker = client(h.baseUrl, 'ocs_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    for (let i = 0; i < 6; i++) await attacker.get('/conversations', { 'x-forwarded-for': '203.0.113.7' });
    const victim = await client(h.baseUrl, key).get('/conversations', { 'x-forwarded-for': '198.51.100.9' });
    expect([victim.status, victim.body.code]).toEqual([200, undefined]);
  });

  it("WebSocket upgrades behind the proxy too: one client's failed attempts do not lock out another", async () => {
    const pusher = await createPusher({
      bus: h.storage.bus,
      store: h.storage.store,
      codec: h.storage.codec,
      authenticator: h.platform.api.auth.authenticator,
      live: createInProcessLiveFeed(),
      log: createLogger('silent'),
      clientAddressOf: h.http.clientAddressOf,
    });
    pusher.attach(h.http.server);
    try {
      const { tenantId, key } = await newTenant(operator);
      const token = await tokenFor(h.baseUrl, key);
      const refused: number[] = [];
      for (let i = 0; i < 7; i++) {
        const attempt = connect(h.baseUrl, tenantId, 'not-a-token', '', { headers: { 'x-forwarded-for': '203.0.113.7' } });
        refused.push((await attempt.closed).code);
      }
      expect(refused.at(-1), 'the attacker itself is limited').toBe(4429);
      const victim = connect(h.baseUrl, tenantId, token, '', { headers: { 'x-forwarded-for': '198.51.100.9' } });
      await victim.until((f) => f.kind === 'live');
      victim.ws.close();
    } finally {
      await pusher.close();
    }
  });

  it('without TRUST_PROXY, X-Forwarded-For is ignored: a client cannot dodge the limit by naming other addresses', async () => {
    const untrusting = await startApiHarness({ AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const attacker = client(untrusting.baseUrl, 'ocs_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) codes.push((await attacker.get('/conversations', { 'x-forwarded-for': `203.0.113.${i + 1}` })).status);
      expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(codes.at(-1)).toBe(429);
    } finally {
      await untrusting.close();
    }
  });
});
