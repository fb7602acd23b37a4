import { SignJWT, base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_TYP, createJwtService } from '../../adapters/auth/jwt.ts';
import { asymmetricKeySet, ephemeralKeySet, hmacKeySet } from '../../adapters/auth/jwt-keys.ts';
import type { JwtKeySet } from '../../adapters/auth/jwt-keys.ts';
import type { Principal } from '../../adapters/auth/principal.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { AUDIENCE, ISSUER } from './fixtures.ts';

const tenant: Principal = { scope: 'tenant', keyId: 'abcdefgh1234', tenantId: 'acme' as TenantId, via: 'api_key' };
const service = (keys: JwtKeySet, now?: () => Date) => createJwtService({ keys, issuer: ISSUER, audience: AUDIENCE, ...(now ? { now } : {}) });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A token signed with the set's current key whose claims and header the test controls. */
const forge = (keys: JwtKeySet, claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  new SignJWT({ tid: 'acme', scope: 'tenant', sub: 'abcdefgh1234', iss: ISSUER, aud: AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 600, ...claims })
    .setProtectedHeader({ alg: keys.alg, kid: keys.current.kid, typ: ACCESS_TOKEN_TYP, ...header })
    .sign(keys.current.key);

const rejects = async (keys: JwtKeySet, token: string | Promise<string>, detail?: RegExp) => {
  const error = await service(keys).verify(await token).then(
    () => undefined,
    (e: unknown) => e as { status: number; code: string; message: string; headers: Record<string, string> },
  );
  expect(error, 'the token was accepted').toBeDefined();
  expect(error).toMatchObject({ status: 401, code: 'invalid_token' });
  expect(error!.headers['WWW-Authenticate']).toMatch(/^Bearer /);
  if (detail) expect(error!.message).toMatch(detail);
};

describe.each(['HS256', 'EdDSA', 'ES256'] as const)('JWT with %s', (alg) => {
  const keys = ephemeralKeySet(alg, 'k1');

  it('round-trips: a token issued for a key verifies to the same principal, via jwt', async () => {
    const { token, expiresIn } = await service(keys).issue(tenant);
    expect(expiresIn).toBe(900);
    await expect(service(keys).verify(token)).resolves.toEqual({ ...tenant, via: 'jwt' });
    const header = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0]!)));
    expect(header).toEqual({ alg, kid: 'k1', typ: ACCESS_TOKEN_TYP });
  });

  it('refuses alg "none"', async () => {
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const unsigned = `${enc({ alg: 'none', kid: 'k1', typ: ACCESS_TOKEN_TYP })}.${enc({ tid: 'acme', scope: 'tenant', sub: 'abcdefgh1234', iss: ISSUER, aud: AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 60 })}.`;
    await rejects(keys, unsigned);
  });

  it('refuses wrong audience, wrong issuer, expired, missing exp, missing iat', async () => {
    await expect(service(keys).verify(await forge(keys, {})), 'control: the unaltered forgery passes').resolves.toBeDefined();
    await rejects(keys, forge(keys, { aud: 'someone-else' }), /aud/);
    await rejects(keys, forge(keys, { iss: 'https://evil.test' }), /iss/);
    await rejects(keys, forge(keys, { iat: nowSeconds() - 3600, exp: nowSeconds() - 60 }), /expired/);
    await rejects(keys, forge(keys, { exp: undefined }), /exp/);
    await rejects(keys, forge(keys, { iat: undefined }), /iat/);
  });

  it('refuses an unknown kid, a missing kid, another typ and a tampered payload', async () => {
    await rejects(keys, forge(keys, {}, { kid: 'k-unknown' }));
    await rejects(keys, forge(keys, {}, { kid: undefined }));
    await rejects(keys, forge(keys, {}, { typ: 'JWT' }));
    const [h, , s] = (await forge(keys, {})).split('.');
    const payload = base64url.encode(JSON.stringify({ tid: 'other', scope: 'tenant', sub: 'abcdefgh1234', iss: ISSUER, aud: AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 60 }));
    await rejects(keys, `${h}.${payload}.${s}`);
  });

  it('refuses tokens without our claims or with inconsistent ones', async () => {
    await rejects(keys, forge(keys, { tid: undefined }));
    await rejects(keys, forge(keys, { scope: undefined }));
    await rejects(keys, forge(keys, { sub: undefined }));
    await rejects(keys, forge(keys, { scope: 'superuser' }));
    await rejects(keys, forge(keys, { tid: 'Not A Tenant' }));
    await rejects(keys, forge(keys, { scope: 'operator', tid: 'acme' }));
  });

  it('refuses a token signed by a key of the same algorithm that is not in the set', async () => {
    const stranger = ephemeralKeySet(alg, 'k1');
    await rejects(keys, service(stranger).issue(tenant).then((t) => t.token), /signature/);
  });

  it('rotation: a token signed with the previous key verifies while that key stays in the set', async () => {
    const old = alg === 'HS256' ? hmacKeySet([{ kid: 'old', secret: 'o'.repeat(32) }]) : ephemeralKeySet(alg, 'old');
    const token = (await service(old).issue(tenant)).token;
    const next = ephemeralKeySet(alg, 'new');
    const rotated =
      alg === 'HS256'
        ? hmacKeySet([{ kid: 'new', secret: 'n'.repeat(32) }, { kid: 'old', secret: 'o'.repeat(32) }])
        : asymmetricKeySet(alg, [{ ...next.current.key.export({ format: 'jwk' }), kid: 'new' }, { ...old.jwks()!.keys[0]! }]);
    await expect(service(rotated).verify(token)).resolves.toMatchObject({ keyId: tenant.keyId });
    const reissued = (await service(rotated).issue(tenant)).token;
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(reissued.split('.')[0]!))).kid).toBe('new');
    const retired = alg === 'HS256' ? hmacKeySet([{ kid: 'new', secret: 'n'.repeat(32) }]) : next;
    await rejects(retired, token);
  });
});

describe('JWT algorithm confusion and key publication', () => {
  it.each(['EdDSA', 'ES256'] as const)('%s: an HS256 token whose HMAC secret is the public key is refused', async (alg) => {
    const keys = ephemeralKeySet(alg, 'k1');
    const publicJwk = keys.jwks()!.keys[0]!;
    const publicPem = keys.verificationKey('k1')!.export({ format: 'pem', type: 'spki' }).toString();
    for (const secret of [publicPem, JSON.stringify(publicJwk)]) {
      const token = await new SignJWT({ tid: 'acme', scope: 'tenant' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: ACCESS_TOKEN_TYP })
        .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('abcdefgh1234').setIssuedAt().setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      await rejects(keys, token, /algorithm/);
    }
  });

  it('an HS256 deployment refuses an EdDSA token even with a known kid', async () => {
    const hs = hmacKeySet([{ kid: 'k1', secret: 's'.repeat(40) }]);
    const ed = ephemeralKeySet('EdDSA', 'k1');
    await rejects(hs, service(ed).issue(tenant).then((t) => t.token), /algorithm/);
  });

  it('publishes public keys only, and nothing for HS256', () => {
    const ed = ephemeralKeySet('EdDSA', 'k1');
    const set = ed.jwks()!;
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ kid: 'k1', alg: 'EdDSA', use: 'sig', kty: 'OKP', crv: 'Ed25519' });
    expect(set.keys[0]).not.toHaveProperty('d');
    expect(hmacKeySet([{ secret: 'x'.repeat(32) }]).jwks()).toBeNull();
  });

  it('refuses weak secrets and keys of the wrong curve at start', () => {
    expect(() => hmacKeySet([{ kid: 'k', secret: 'short' }])).toThrow(/32 bytes/);
    const es = ephemeralKeySet('ES256', 'k');
    expect(() => asymmetricKeySet('EdDSA', [{ ...es.current.key.export({ format: 'jwk' }), kid: 'k' }])).toThrow(/Ed25519/);
    expect(() => asymmetricKeySet('EdDSA', [{ ...ephemeralKeySet('EdDSA').jwks()!.keys[0]! }])).toThrow(/sign/);
  });

  it('token lifetime: valid just before exp, refused after (5 s clock tolerance)', async () => {
    const keys = ephemeralKeySet('HS256', 'k1');
    let now = new Date('2030-01-01T00:00:00Z');
    const svc = service(keys, () => now);
    const { token } = await svc.issue(tenant);
    now = new Date(now.getTime() + 899_000);
    await expect(svc.verify(token)).resolves.toBeDefined();
    now = new Date(now.getTime() + 10_000);
    await expect(svc.verify(token)).rejects.toMatchObject({ status: 401, message: /expired/ });
  });

  it('a token verified once is remembered by its exact text only: a tampered copy is still refused', async () => {
    const keys = ephemeralKeySet('HS256', 'k1');
    const svc = service(keys);
    const { token } = await svc.issue(tenant);
    const first = await svc.verify(token);
    expect(await svc.verify(token)).toEqual(first);
    const [h, p, sig] = token.split('.') as [string, string, string];
    const flipped = `${sig.slice(0, -2)}${sig.at(-2) === 'A' ? 'B' : 'A'}${sig.at(-1)}`;
    await expect(svc.verify(`${h}.${p}.${flipped}`)).rejects.toMatchObject({ status: 401 });
    const other = base64url.encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(p))), tid: 'globex' }));
    await expect(svc.verify(`${h}.${other}.${sig}`)).rejects.toMatchObject({ status: 401 });
  });
});
