import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authConfigSchema, loadJwtKeySet } from '../../adapters/auth/config.ts';
import { mintApiKey } from '../../commands/tenants/api-keys.ts';
import { httpApiConfigSchema } from '../../adapters/http/index.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant, tokenFor } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';

const edJwk = (kid: string) => ({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid });

describe('auth configuration', () => {
  it('defaults: HS256, 15-minute tokens, 5 s key cache, an ephemeral key when none is configured', () => {
    const config = httpApiConfigSchema.parse({});
    expect(config).toMatchObject({ JWT_ALG: 'HS256', JWT_TTL_SECONDS: 900, API_KEY_CACHE_MS: 5_000, JWT_ISSUER: 'openclaw-service', JWT_AUDIENCE: 'openclaw-api', OPERATOR_REQUESTS_PER_MINUTE: 600 });
    expect(loadJwtKeySet(config).ephemeral).toBe(true);
  });

  it('JWT_SECRET lists kid:secret pairs, current first', () => {
    const { keys, ephemeral } = loadJwtKeySet({ JWT_ALG: 'HS256', JWT_SECRET: `new:${'n'.repeat(32)},old:${'o'.repeat(32)}` });
    expect(ephemeral).toBe(false);
    expect(keys.current.kid).toBe('new');
    expect(keys.verificationKey('old')).toBeDefined();
    expect(keys.verificationKey('other')).toBeUndefined();
  });

  it('JWT_PRIVATE_KEYS takes JWKs; a retired public key only verifies', () => {
    const retired = edJwk('old');
    const { d: _d, ...retiredPublic } = retired;
    const { keys } = loadJwtKeySet({ JWT_ALG: 'EdDSA', JWT_PRIVATE_KEYS: JSON.stringify([edJwk('new'), retiredPublic]) });
    expect(keys.current.kid).toBe('new');
    expect(keys.jwks()!.keys.map((k) => k.kid)).toEqual(['new', 'old']);
    expect(JSON.stringify(keys.jwks())).not.toContain('"d"');
  });

  it('refuses mismatched or malformed settings without echoing secrets', () => {
    expect(() => loadJwtKeySet({ JWT_ALG: 'EdDSA', JWT_SECRET: 's'.repeat(40) })).toThrow(/JWT_SECRET is for HS256/);
    expect(() => loadJwtKeySet({ JWT_ALG: 'ES256', JWT_PRIVATE_KEYS: '{not json secret-material' })).toThrow(/^JWT_PRIVATE_KEYS must be a JSON array of JWKs$/);
    expect(() => loadJwtKeySet({ JWT_ALG: 'ES256', JWT_PRIVATE_KEYS: JSON.stringify([edJwk('k')]) })).toThrow(/P-256/);
    expect(authConfigSchema.safeParse({ OPERATOR_API_KEY: 'not-a-key' }).success).toBe(false);
    const secret = (weak: string) => authConfigSchema.safeParse({ OPERATOR_API_KEY: `ocs_admin0000000_${weak}` });
    for (const weak of ['a'.repeat(43), 'admin'.repeat(9).slice(0, 43), 'passw0rd-'.repeat(5).slice(0, 43), 'abcdefghijklmnop'.repeat(3).slice(0, 43), 'Tr0ub4dor&3'.replace('&', '-').repeat(4).slice(0, 43)]) {
      const parsed = secret(weak);
      expect(parsed.success, weak).toBe(false);
      expect(parsed.error?.issues.map((i) => i.message)).toEqual([expect.stringMatching(/^must have a random secret/)]);
    }
    // what the embedded default mints passes, whatever the draw
    for (let i = 0; i < 200; i++) expect(authConfigSchema.safeParse({ OPERATOR_API_KEY: mintApiKey().key }).success).toBe(true);
    // so does a random hex secret an operator made by hand (`openssl rand -hex 22`, cut to 43): at most 16 different characters
    for (let i = 0; i < 200; i++) {
      const hex = randomBytes(22).toString('hex').slice(0, 43);
      expect(authConfigSchema.safeParse({ OPERATOR_API_KEY: `ocs_admin0000000_${hex}` }).success, hex).toBe(true);
    }
    expect(authConfigSchema.safeParse({ JWT_ALG: 'RS256' }).success).toBe(false);
    expect(authConfigSchema.safeParse({ JWT_TTL_SECONDS: '86400' }).success).toBe(false);
  });

  it('with EdDSA the service publishes its public key and its tokens verify', async () => {
    const api = await startApiHarness({ JWT_ALG: 'EdDSA', JWT_SECRET: '', JWT_PRIVATE_KEYS: JSON.stringify([edJwk('k-2030')]), JWT_ISSUER: 'https://api.example', JWT_AUDIENCE: 'example' });
    try {
      const jwks = (await (await fetch(`${api.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
      expect(jwks.keys).toEqual([expect.objectContaining({ kid: 'k-2030', alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519', use: 'sig' })]);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      const { key, tenantId } = await newTenant(client(api.baseUrl, api.operatorKey));
      const token = await tokenFor(api.baseUrl, key);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(claims).toMatchObject({ iss: 'https://api.example', aud: 'example', tid: tenantId, scope: 'tenant' });
      expect(ok(await client(api.baseUrl, token).get('/tenants/me'), 200)).toMatchObject({ tenantId });
    } finally {
      await api.close();
    }
  });
});
