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
      auth.markRevoked(other.keyId);
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

  it('a token this client already used keeps working after it is locked out; a new token or key does not', async () => {
    const store = keyStore();
    const rates = createRateLimits({ authFailuresPerMinute: 2, keyPrefix: `t${Math.random()}` });
    const auth = makeAuth({ keys: ephemeralKeySet('HS256'), findApiKey: store.find, failures: rates.authFailures });
    const server = await serve(authApp(auth));
    const get = (credential: string) => fetch(`${server.url}/tenant-data`, { headers: { authorization: `Bearer ${credential}` } }).then((r) => r.status);
    const token = async (key: string) =>
      ((await (await fetch(`${server.url}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })).json()) as { access_token: string }).access_token;
    try {
      const acme = store.add('acme');
      const used = await token(acme.key);
      const unused = await token(store.add('acme').key); // another key: another token text
      expect(await get(used)).toBe(200);
      const bad = `ocs_${'q'.repeat(12)}_${'A'.repeat(43)}`;
      expect([await get(bad), await get(bad), await get(bad)]).toEqual([401, 401, 429]);
      expect(await get(used)).toBe(200); // verified before: no guess, no lockout
      expect(await get(unused)).toBe(429); // never verified: checked like any other attempt
      expect(await get(acme.key)).toBe(429);
      auth.markRevoked(acme.keyId);
      expect(await get(used)).toBe(401); // revocation still applies to the known token
    } finally {
      await server.close();
    }
  });
});
