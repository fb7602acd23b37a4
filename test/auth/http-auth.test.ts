import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeySet } from '../../adapters/auth/jwt-keys.ts';
import { createRateLimits } from '../../adapters/limits/index.ts';
import { serve } from '../http/serve.ts';
import { authApp, keyStore, makeAuth, operatorKey } from './fixtures.ts';

type Served = Awaited<ReturnType<typeof serve>>;

describe('authentication over HTTP: API keys, tokens, scopes', () => {
  const store = keyStore();
  const keys = ephemeralKeySet('EdDSA', 'k1');
  const auth = makeAuth({ keys, findApiKey: store.find });
  let server: Served;
  beforeAll(async () => (server = await serve(authApp(auth))));
  afterAll(() => server.close());

  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers } });
  const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
  const tokenFor = async (credential: string) => {
    const res = await call('POST', '/token', bearer(credential));
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const expect401 = async (res: Response, code: string) => {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="openclaw"/);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 401, code });
  };

  it('a tenant key works as Bearer and as X-Api-Key, and names its tenant', async () => {
    const key = store.add('acme');
    for (const headers of [bearer(key.key), { 'x-api-key': key.key }]) {
      const res = await call('GET', '/tenant-data', headers);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ scope: 'tenant', keyId: key.keyId, tenantId: 'acme', via: 'api_key' });
    }
  });

  it('no credential, a malformed, unknown or wrong-secret key, or another scheme: 401 with a Bearer challenge', async () => {
    const key = store.add('acme');
    const res = await call('GET', '/tenant-data');
    await expect401(res, 'credentials_required');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="openclaw"');
    await expect401(await call('GET', '/tenant-data', bearer('ocs_short_key')), 'invalid_api_key');
    await expect401(await call('GET', '/tenant-data', bearer(key.key.replace(key.keyId, 'zzzzzzzzzzzz'))), 'invalid_api_key');
    const wrongSecret = `ocs_${key.keyId}_${'A'.repeat(43)}`;
    await expect401(await call('GET', '/tenant-data', bearer(wrongSecret)), 'invalid_api_key');
    await expect401(await call('GET', '/tenant-data', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 'invalid_authorization');
    await expect401(await call('GET', '/tenant-data', bearer('not.a.jwt')), 'invalid_token');
  });

  it('both Authorization and X-Api-Key at once is a 400', async () => {
    const key = store.add('acme');
    const res = await call('GET', '/tenant-data', { ...bearer(key.key), 'x-api-key': key.key });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ambiguous_credentials' });
  });

  it('a revoked key is refused, and so is every token made from it', async () => {
    const key = store.add('acme');
    const token = await tokenFor(key.key);
    expect((await call('GET', '/tenant-data', bearer(token))).status).toBe(200);
    store.revoke(key.keyId);
    await expect401(await call('GET', '/tenant-data', bearer(key.key)), 'api_key_revoked');
    await expect401(await call('GET', '/tenant-data', bearer(token)), 'api_key_revoked');
  });

  it('the operator key comes from config and has the operator scope; a wrong operator secret is refused', async () => {
    const res = await call('POST', '/operator', bearer(operatorKey.key));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ scope: 'operator', tenantId: null });
    const token = await tokenFor(operatorKey.key);
    expect((await call('POST', '/operator', bearer(token))).status).toBe(200);
    await expect401(await call('POST', '/operator', bearer(`ocs_${operatorKey.keyId}_${'B'.repeat(43)}`)), 'invalid_api_key');
  });

  it('scopes: auditors only read, tenants cannot act as operator, the operator has no tenant data', async () => {
    const auditor = store.add('acme', 'auditor');
    const tenant = store.add('acme');
    const scopeOf = async (method: string, path: string, credential: string) => {
      const res = await call(method, path, bearer(credential));
      return res.status === 403 ? ((await res.json()) as { code: string }).code : res.status;
    };
    expect(await scopeOf('GET', '/tenant-data', auditor.key)).toBe(200);
    expect(await scopeOf('GET', '/tenant-data', await tokenFor(auditor.key))).toBe(200);
    expect(await scopeOf('POST', '/tenant-data', auditor.key)).toBe('insufficient_scope');
    expect(await scopeOf('POST', '/tenant-data', await tokenFor(auditor.key))).toBe('insufficient_scope');
    expect(await scopeOf('POST', '/tenant-data', tenant.key)).toBe(200);
    expect(await scopeOf('POST', '/operator', tenant.key)).toBe('insufficient_scope');
    expect(await scopeOf('GET', '/tenant-data', operatorKey.key)).toBe('insufficient_scope');
  });

  it('tokens carry tid, scope, sub and a 15-minute exp; a token cannot buy another token', async () => {
    const key = store.add('acme', 'auditor');
    const res = await call('POST', '/token', bearer(key.key));
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number; scope: string };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'auditor' });
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: key.keyId, tid: 'acme', scope: 'auditor' });
    expect(claims.exp - claims.iat).toBe(900);
    await expect401(await call('POST', '/token', bearer(body.access_token)), 'api_key_required');
  });
});

describe('key lookup cache: revocation elsewhere is seen within 5 s, revocation here at once', () => {
  it('reuses a record for at most 5 s', async () => {
    const store = keyStore();
    let now = Date.parse('2030-01-01T00:00:00Z');
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: store.find, apiKeyCacheMs: 5_000, now: () => new Date(now) });
    const server = await serve(authApp(auth));
    try {
      const key = store.add('acme');
      const get = () => fetch(`${server.url}/tenant-data`, { headers: { authorization: `Bearer ${key.key}` } }).then((r) => r.status);
      expect(await get()).toBe(200);
      expect(await get()).toBe(200);
      expect(store.lookups()).toBe(1);
      store.revoke(key.keyId);
      now += 4_000;
      expect(await get()).toBe(200); // still inside the documented 5 s window
      now += 1_001;
      expect(await get()).toBe(401);

      const other = store.add('acme');
      const getOther = () => fetch(`${server.url}/tenant-data`, { headers: { 'x-api-key': other.key } }).then((r) => r.status);
      expect(await getOther()).toBe(200);
      await auth.markRevoked(other.keyId);
      expect(await getOther()).toBe(401);
    } finally {
      await server.close();
    }
  });
});

describe('failed authentications are throttled per client', () => {
  it('answers 429 with Retry-After once a client failed too often, without looking keys up', async () => {
    const store = keyStore();
    const rates = createRateLimits({ authFailuresPerMinute: 3, keyPrefix: `t${Math.random()}` });
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: store.find, failures: rates.authFailures });
    const server = await serve(authApp(auth));
    try {
      const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${server.url}/tenant-data`, { headers: { authorization: `Bearer ${bad}` } });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect(store.lookups()).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('a valid credential is served from an address another client locked out; guesses from it are refused unread', async () => {
    const store = keyStore();
    const rates = createRateLimits({ authFailuresPerMinute: 2, keyPrefix: `t${Math.random()}` });
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: store.find, failures: rates.authFailures });
    const server = await serve(authApp(auth));
    // every client behind one address (an office NAT, a proxy without X-Forwarded-For)
    const get = (credential: string) => fetch(`${server.url}/tenant-data`, { headers: { authorization: `Bearer ${credential}` } }).then((r) => r.status);
    const token = async (key: string) =>
      ((await (await fetch(`${server.url}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })).json()) as { access_token: string }).access_token;
    try {
      const acme = store.add('acme');
      const used = await token(acme.key);
      const unused = await token(store.add('acme').key); // another key: another token text, never presented here
      const operator = () => fetch(`${server.url}/operator`, { method: 'POST', headers: { authorization: `Bearer ${operatorKey.key}` } }).then((r) => r.status);
      expect(await get(used)).toBe(200);
      expect(await operator()).toBe(200);
      const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
      expect([await get(bad), await get(bad), await get(bad)]).toEqual([401, 401, 429]);
      expect(await get(used)).toBe(200); // verified before
      expect(await get(unused)).toBe(200); // its signature verifies: no guess
      expect(await get(acme.key)).toBe(200); // the key that verified here before
      expect(await operator()).toBe(200); // the operator's key that verified here before
      expect(await get(`ocs_${acme.keyId}_${'B'.repeat(43)}`)).toBe(429); // a guess at a known key id: judged in memory, still counted
      expect(await get(acme.key)).toBe(200); // and that guess did not cost the real key its standing
      const lookupsBeforeGuesses = store.lookups();
      expect([await get(`ocs_${'r'.repeat(12)}_${'A'.repeat(43)}`), await get('not.a.jwt'), await get(`${unused.slice(0, -4)}AAAA`)]).toEqual([429, 429, 429]);
      expect(store.lookups(), 'an unknown key from a locked-out address is not looked up').toBe(lookupsBeforeGuesses);
      await auth.markRevoked(acme.keyId);
      expect(await get(used)).toBe(401); // revocation still applies to the known token
      expect(await get(acme.key)).toBe(429);
    } finally {
      await server.close();
    }
  });

  it('past the budget, a key id whose record is cached is no oracle: its right secret, never verified here, gets the same 429 as wrong ones', async () => {
    const store = keyStore();
    const rates = createRateLimits({ authFailuresPerMinute: 2, keyPrefix: `t${Math.random()}` });
    // the production default: a found record is reused for 5 s (the clock stands still here)
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: store.find, failures: rates.authFailures, apiKeyCacheMs: 5_000 });
    const server = await serve(authApp(auth));
    const answer = async (credential: string) => {
      const res = await fetch(`${server.url}/tenant-data`, { headers: { authorization: `Bearer ${credential}` } });
      return { status: res.status, code: ((await res.json()) as { code?: string }).code };
    };
    try {
      const used = store.add('acme');
      expect((await answer(used.key)).status).toBe(200); // verified here before the lockout
      const victim = store.add('acme'); // valid, never presented from here
      const guess = (i: number) => `ocs_${victim.keyId}_${String(i).padStart(43, 'A')}`;
      // a wrong secret at the victim's id reads its record (now cached) and, with one more, spends the budget
      expect([(await answer(guess(1))).status, (await answer(guess(2))).status]).toEqual([401, 401]);
      const locked = { status: 429, code: 'rate_limited' };
      expect(await answer(guess(3))).toEqual(locked);
      expect(await answer(victim.key)).toEqual(locked); // was 200: the secret's guesses told apart, without limit
      expect(await answer(guess(4))).toEqual(locked);
      expect(await answer(victim.key)).toEqual(locked);
      expect(await answer(used.key)).toMatchObject({ status: 200 }); // the exact key verified here is still served
      expect(await answer(`ocs_${used.keyId}_${'B'.repeat(43)}`)).toEqual(locked); // a wrong secret at its id is not
      expect(await answer(used.key)).toMatchObject({ status: 200 });
      expect(store.lookups(), 'the cached records were not read again').toBe(2);
    } finally {
      await server.close();
    }
  });

  it('the operator key is served from a locked-out address once it verified on this process; before that it is refused like a guess', async () => {
    const rates = createRateLimits({ authFailuresPerMinute: 1, keyPrefix: `t${Math.random()}` });
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: keyStore().find, failures: rates.authFailures });
    const from = (ip: string, key: string) =>
      auth.authenticator
        .authenticate({ get: (h) => (h === 'authorization' ? `Bearer ${key}` : undefined), ip })
        .then(() => 200, (error: { status: number }) => error.status);
    const wrong = `ocs_${operatorKey.keyId}_${'C'.repeat(43)}`;
    expect([await from('203.0.113.7', wrong), await from('203.0.113.7', wrong)]).toEqual([401, 429]);
    expect(await from('203.0.113.7', operatorKey.key)).toBe(429); // was 200: the operator's secret could be guessed without limit
    expect(await from('198.51.100.1', operatorKey.key)).toBe(200); // from an address within its budget
    expect(await from('203.0.113.7', operatorKey.key)).toBe(200); // now verified here: no guess
    expect(await from('203.0.113.7', wrong)).toBe(429);
    expect(await from('203.0.113.7', operatorKey.key)).toBe(200); // a wrong secret did not take that away
  });

  it('a burst of parallel bad attempts gets no more 401s, and costs no more lookups, than the budget', async () => {
    const store = keyStore();
    const slowFind = async (keyId: string) => {
      await new Promise((resolve) => setTimeout(resolve, 20)); // a real read takes a while: the burst is all in flight
      return store.find(keyId);
    };
    const rates = createRateLimits({ authFailuresPerMinute: 5, keyPrefix: `t${Math.random()}` });
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: slowFind, failures: rates.authFailures });
    const attempt = (i: number) =>
      auth.authenticator
        .authenticate({ get: (h) => (h === 'authorization' ? `Bearer ocs_${String(i).padStart(12, 'q')}_${'A'.repeat(43)}` : undefined), ip: '203.0.113.7' })
        .then(() => 200, (error: { status: number }) => error.status);
    const withKey = (key: string) => ({ get: (h: string) => (h === 'authorization' ? `Bearer ${key}` : undefined), ip: '203.0.113.7' });
    const acme = store.add('acme');
    expect(await auth.authenticator.authenticate(withKey(acme.key))).toMatchObject({ tenantId: 'acme' });
    const before = store.lookups();
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(i)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
    expect(store.lookups() - before).toBe(5);
    // the valid key from the same address, after the burst: still served
    expect(await auth.authenticator.authenticate(withKey(acme.key))).toMatchObject({ tenantId: 'acme' });
  });
});
