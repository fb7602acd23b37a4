import { randomUUID } from 'node:crypto';
import net from 'node:net';
import express from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextOf, requestContext } from '../../adapters/http/request-context.ts';
import { problemMiddleware } from '../../adapters/http/problem.ts';
import { closeRedisClient, createRateLimits, createRedisClient, createTierLookup, rateLimit } from '../../adapters/limits/index.ts';
import type { RateLimits } from '../../adapters/limits/index.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import type { Tier } from '../../domain/tiers.ts';
import { ephemeralKeySet } from '../../adapters/auth/jwt-keys.ts';
import type { Authenticator } from '../../adapters/auth/authenticate.ts';
import { keyStore, makeAuth, silent } from '../auth/fixtures.ts';
import { serve } from './serve.ts';

/** An app whose caller is whoever the `x-who` header says (operator or a tenant id), rate limited. */
const limitedApp = (rates: RateLimits, tierOf: (tenantId: string) => Promise<Tier>) => {
  const app = express();
  app.use(requestContext());
  app.use((req, _res, next) => {
    const who = req.get('x-who') ?? 'operator';
    contextOf(req).principal =
      who === 'operator'
        ? { scope: 'operator', keyId: 'opkey0000000', tenantId: null, via: 'api_key' }
        : { scope: 'tenant', keyId: 'key000000000', tenantId: who as TenantId, via: 'api_key' };
    next();
  });
  app.get('/x', rateLimit({ limits: rates, tierOf }), (_req, res) => res.json({ ok: true }));
  app.use(problemMiddleware(silent));
  return app;
};

const burst = async (url: string, who: string, n: number) => {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await fetch(`${url}/x`, { headers: { 'x-who': who } })).status);
  return statuses;
};

const tierBudgetSpec = (name: string, makeRates: () => RateLimits | Promise<RateLimits>) =>
  describe(`rate limits by tier (${name})`, () => {
    let server: Awaited<ReturnType<typeof serve>>;
    const tiers: Record<string, Tier> = {};
    beforeAll(async () => {
      server = await serve(limitedApp(await makeRates(), async (t) => tiers[t] ?? 'free'));
    });
    afterAll(() => server.close());

    it('a free tenant gets its requestsPerMinute, then 429 with Retry-After; another tenant is unaffected', async () => {
      const budget = TIER_LIMITS.free.requestsPerMinute;
      const a = `a-${randomUUID()}`;
      const statuses = await burst(server.url, a, budget);
      expect(statuses.every((s) => s === 200)).toBe(true);
      const refused = await fetch(`${server.url}/x`, { headers: { 'x-who': a } });
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
      expect(await refused.json()).toMatchObject({ status: 429, code: 'rate_limited', limit: budget });
      expect((await fetch(`${server.url}/x`, { headers: { 'x-who': `b-${randomUUID()}` } })).status).toBe(200);
    });

    it('a pro tenant gets the pro budget', async () => {
      const t = `p-${randomUUID()}`;
      tiers[t] = 'pro';
      const res = await fetch(`${server.url}/x`, { headers: { 'x-who': t } });
      expect(res.headers.get('x-ratelimit-limit')).toBe(String(TIER_LIMITS.pro.requestsPerMinute));
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(TIER_LIMITS.pro.requestsPerMinute - 1));
    });
  });

tierBudgetSpec('memory', () => createRateLimits({ keyPrefix: `mem-${randomUUID()}` }));

describe('with Redis at 127.0.0.1:6379', () => {
  const prefix = `test-rl-${randomUUID()}`;
  const clients: Redis[] = [];
  const client = () => {
    const c = createRedisClient('redis://127.0.0.1:6379', silent);
    clients.push(c);
    return c;
  };
  const ready = (c: Redis) => (c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => c.once('ready', () => resolve())));
  afterAll(async () => {
    const c = clients[0];
    if (c) {
      const keys = await c.keys(`${prefix}*`);
      if (keys.length) await c.del(...keys);
    }
    await Promise.all(clients.map(closeRedisClient));
  });

  tierBudgetSpec('redis', async () => {
    const c = client();
    await ready(c);
    return createRateLimits({ redis: c, keyPrefix: `${prefix}-a` });
  });

  it('failed authentications from two processes at once: a parallel burst is counted before it is judged, never past the budget', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const [one, two] = [c1, c2].map((c) => createRateLimits({ redis: c, keyPrefix: `${prefix}-f`, authFailuresPerMinute: 5 }));
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? one! : two!).authFailures.spend('203.0.113.7').then(() => 'counted', (e: { status: number }) => e.status)),
    );
    expect(outcomes.filter((o) => o === 'counted')).toHaveLength(5);
    expect(outcomes.filter((o) => o === 429)).toHaveLength(25);
    // an attempt that verified gives its count back: it never was a failure
    for (let i = 0; i < 5; i++) await one!.authFailures.spend('203.0.113.8');
    await two!.authFailures.refund('203.0.113.8');
    await expect(one!.authFailures.spend('203.0.113.8')).resolves.toBeUndefined();
    await expect(two!.authFailures.spend('203.0.113.8')).rejects.toMatchObject({ status: 429 });
  });

  it('a key that verified on one API process is served by another from an address locked out there', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const keys = keyStore();
    const processes = [c1, c2].map((c) => {
      const rates = createRateLimits({ redis: c, keyPrefix: `${prefix}-v`, authFailuresPerMinute: 2 });
      return makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: keys.find, failures: rates.authFailures }).authenticator;
    });
    const [one, two] = [processes[0]!, processes[1]!];
    const from = (key: string) => ({ get: (h: string) => (h === 'authorization' ? `Bearer ${key}` : undefined), ip: '203.0.113.7' });
    const status = (p: Promise<unknown>) => p.then(() => 200, (e: { status: number }) => e.status);
    const acme = keys.add('acme');
    const stranger = keys.add('acme'); // valid, but never used before the lockout
    expect(await status(one.authenticate(from(acme.key)))).toBe(200);
    await c1.ping(); // the voucher's write went first on this connection
    const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
    expect([await status(two.authenticate(from(bad))), await status(two.authenticate(from(bad))), await status(two.authenticate(from(bad)))]).toEqual([401, 401, 429]);
    expect(await status(two.authenticate(from(acme.key)))).toBe(200);
    expect(await status(two.authenticate(from(stranger.key)))).toBe(429); // what is left: see docs/decisions.md
  });

  it('a key in use on one API process keeps its voucher: lost (expired, Redis restarted empty), it is written again within 10 minutes of use', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const keys = keyStore();
    let clock = Date.parse('2026-12-02T12:00:00Z');
    const [one, two] = [c1, c2].map((c) => {
      const rates = createRateLimits({ redis: c, keyPrefix: `${prefix}-w`, authFailuresPerMinute: 2 });
      return makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: keys.find, failures: rates.authFailures, now: () => new Date(clock) }).authenticator;
    }) as [Authenticator, Authenticator];
    const from = (key: string) => ({ get: (h: string) => (h === 'authorization' ? `Bearer ${key}` : undefined), ip: '203.0.113.9' });
    const status = (p: Promise<unknown>) => p.then(() => 200, (e: { status: number }) => e.status);
    const acme = keys.add('acme');
    expect(await status(one.authenticate(from(acme.key)))).toBe(200);
    await c1.ping(); // the voucher's write went first on this connection
    const vouchers = await c1.keys(`${prefix}-w:vouched:*`);
    expect(vouchers).toHaveLength(1);
    await c1.del(...vouchers); // its 7 days are over while the key is still in use (or Redis restarted without its data)
    clock += 11 * 60_000;
    expect(await status(one.authenticate(from(acme.key)))).toBe(200); // still in use on the first process
    await c1.ping();
    const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
    expect([await status(two.authenticate(from(bad))), await status(two.authenticate(from(bad))), await status(two.authenticate(from(bad)))]).toEqual([401, 401, 429]);
    expect(await status(two.authenticate(from(acme.key)))).toBe(200); // was 429: a process restarted or added refused a key in daily use
  });

  it('a key revoked through one API process loses its voucher there: from a locked-out address, another process refuses it unread', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const keys = keyStore();
    const [one, two] = [c1, c2].map((c) => {
      const rates = createRateLimits({ redis: c, keyPrefix: `${prefix}-r`, authFailuresPerMinute: 2 });
      return makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: keys.find, failures: rates.authFailures });
    }) as [ReturnType<typeof makeAuth>, ReturnType<typeof makeAuth>];
    const from = (key: string) => ({ get: (h: string) => (h === 'authorization' ? `Bearer ${key}` : undefined), ip: '203.0.113.7' });
    const status = (p: Promise<unknown>) => p.then(() => 200, (e: { status: number }) => e.status);
    const acme = keys.add('acme');
    expect(await status(one.authenticator.authenticate(from(acme.key)))).toBe(200);
    await c1.ping(); // the voucher's write went first on this connection
    const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
    expect([await status(two.authenticator.authenticate(from(bad))), await status(two.authenticator.authenticate(from(bad)))]).toEqual([401, 401]);
    keys.revoke(acme.keyId); // the read model applied the revocation
    await one.markRevoked(acme.keyId); // as DELETE /api-keys/{keyId} does on the process that took it
    const before = keys.lookups();
    const answers = await Promise.all(Array.from({ length: 5 }, () => status(two.authenticator.authenticate(from(acme.key)))));
    expect(answers).toEqual([429, 429, 429, 429, 429]);
    expect(keys.lookups() - before, 'a revoked key is no longer vouched for: no read from a locked-out address').toBe(0);
  });

  it('two processes share one budget', async () => {
    const [c1, c2] = [client(), client()];
    await Promise.all([ready(c1), ready(c2)]);
    const one = createRateLimits({ redis: c1, keyPrefix: `${prefix}-b`, tierPerMinute: { free: 10 } });
    const two = createRateLimits({ redis: c2, keyPrefix: `${prefix}-b`, tierPerMinute: { free: 10 } });
    const subject = { kind: 'tenant', tenantId: 'shared', tier: 'free' } as const;
    for (let i = 0; i < 5; i++) {
      expect((await one.consume(subject)).allowed).toBe(true);
      expect((await two.consume(subject)).allowed).toBe(true);
    }
    const refused = await one.consume(subject);
    expect(refused).toMatchObject({ allowed: false, limit: 10, remaining: 0 });
    expect(refused.resetSeconds).toBeGreaterThanOrEqual(1);
    expect(await c1.keys(`${prefix}-b*`)).not.toHaveLength(0);
  });

  it('while Redis is unreachable, counting falls back to memory instead of failing requests', async () => {
    const down = createRedisClient('redis://127.0.0.1:1', silent);
    clients.push(down);
    const rates = createRateLimits({ redis: down, keyPrefix: `${prefix}-c`, tierPerMinute: { free: 2 } });
    const subject = { kind: 'tenant', tenantId: 't', tier: 'free' } as const;
    const decisions = [await rates.consume(subject), await rates.consume(subject), await rates.consume(subject)];
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
  });

  it('a Redis that goes silent after connecting (a stuck server, a dropped route) costs a request half a second, not forever', async () => {
    // a proxy to the real Redis that stops forwarding on demand: the connection stays open, no answer comes
    let mute = false;
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((inbound) => {
      const upstream = net.connect(6379, '127.0.0.1');
      sockets.push(inbound, upstream);
      inbound.on('data', (chunk) => void (mute || upstream.write(chunk)));
      upstream.on('data', (chunk) => void (mute || inbound.write(chunk)));
      for (const s of [inbound, upstream]) s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const c = createRedisClient(`redis://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, silent);
    try {
      await ready(c);
      const rates = createRateLimits({ redis: c, keyPrefix: `${prefix}-d`, tierPerMinute: { free: 2 } });
      const subject = { kind: 'tenant', tenantId: 't', tier: 'free' } as const;
      expect((await rates.consume(subject)).allowed).toBe(true);
      mute = true;
      const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000))]);
      const started = Date.now();
      const decision = await within(rates.consume(subject));
      expect(decision).toMatchObject({ allowed: true }); // counted in memory meanwhile
      expect(await within(rates.authFailures.spend('203.0.113.9'))).not.toBe('hung');
      console.log(`a silent Redis: the limiter answered in ${Date.now() - started} ms`);
    } finally {
      c.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 30_000);
});

describe('operators and the tier cache', () => {
  it('operators share a global budget (default 600 a minute), not a tenant one', async () => {
    const rates = createRateLimits({ keyPrefix: `op-${randomUUID()}` });
    let last;
    for (let i = 0; i < 600; i++) last = await rates.consume({ kind: 'operator' });
    expect(last).toMatchObject({ allowed: true, remaining: 0, limit: 600 });
    expect(await rates.consume({ kind: 'operator' })).toMatchObject({ allowed: false });
  });

  it('a tier is reused for 5 s; an unknown tenant or a failing read side counts as the last known tier or free', async () => {
    let now = 0;
    let tier: Tier | undefined = 'pro';
    let fail = false;
    let loads = 0;
    const tierOf = createTierLookup(
      async () => {
        loads++;
        if (fail) throw new Error('read side down');
        return tier;
      },
      { now: () => now },
    );
    expect(await tierOf('t')).toBe('pro');
    tier = 'enterprise';
    now = 4_999;
    expect(await tierOf('t')).toBe('pro');
    now = 5_000;
    expect(await tierOf('t')).toBe('enterprise');
    expect(loads).toBe(2);
    fail = true;
    now = 10_000;
    expect(await tierOf('t')).toBe('enterprise');
    expect(await tierOf('unknown')).toBe('free');
    fail = false;
    tier = undefined;
    expect(await tierOf('new')).toBe('free');
  });
});
