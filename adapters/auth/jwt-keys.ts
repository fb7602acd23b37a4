import { createHash, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';

export const JWT_ALGS = ['HS256', 'EdDSA', 'ES256'] as const;
export type JwtAlg = (typeof JWT_ALGS)[number];

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: JwtAlg;
  use: 'sig';
}

/** The current key signs; every key in the set verifies (by `kid`) until it is removed. */
export interface JwtKeySet {
  readonly alg: JwtAlg;
  readonly current: { readonly kid: string; readonly key: KeyObject };
  verificationKey(kid: string): KeyObject | undefined;
  /** Public keys for `/.well-known/jwks.json`; `null` for HS256 (a shared secret is never published). */
  jwks(): { keys: PublicJwk[] } | null;
}

const KID = /^[A-Za-z0-9._-]{1,64}$/;

const build = (alg: JwtAlg, entries: { kid: string; sign?: KeyObject; verify: KeyObject }[]): JwtKeySet => {
  const first = entries[0];
  if (!first?.sign) throw new Error('the first JWT key must be able to sign (a secret or a private key)');
  const kids = new Set<string>();
  for (const e of entries) {
    if (!KID.test(e.kid)) throw new Error(`JWT key id ${JSON.stringify(e.kid.slice(0, 70))} must match ${KID}`);
    if (kids.has(e.kid)) throw new Error(`JWT key id ${e.kid} appears twice`);
    kids.add(e.kid);
  }
  const byKid = new Map(entries.map((e) => [e.kid, e.verify]));
  return {
    alg,
    current: { kid: first.kid, key: first.sign },
    verificationKey: (kid) => byKid.get(kid),
    jwks: () =>
      alg === 'HS256'
        ? null
        : { keys: entries.map((e) => ({ ...e.verify.export({ format: 'jwk' }), kid: e.kid, alg, use: 'sig' as const })) },
  };
};

/** HS256 from `kid:secret` pairs (a lone secret gets a kid from its hash); each secret ≥ 32 bytes. */
export const hmacKeySet = (secrets: readonly { kid?: string; secret: string }[]): JwtKeySet =>
  build(
    'HS256',
    secrets.map(({ kid, secret }) => {
      if (Buffer.byteLength(secret) < 32) throw new Error('each JWT secret must be at least 32 bytes');
      const key = createSecretKey(Buffer.from(secret, 'utf8'));
      return { kid: kid ?? createHash('sha256').update(secret).digest('base64url').slice(0, 16), sign: key, verify: key };
    }),
  );

const checkCurve = (alg: JwtAlg, key: KeyObject) => {
  const ok =
    alg === 'EdDSA'
      ? key.asymmetricKeyType === 'ed25519'
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ok) throw new Error(`JWT key type does not fit ${alg} (EdDSA needs Ed25519, ES256 needs P-256)`);
};

/** EdDSA/ES256 from JWKs with `kid`: private ones can sign; public-only ones (retired keys) only verify. */
export const asymmetricKeySet = (alg: Exclude<JwtAlg, 'HS256'>, jwks: readonly (JsonWebKey & { kid?: string })[]): JwtKeySet =>
  build(
    alg,
    jwks.map((jwk) => {
      if (typeof jwk.kid !== 'string') throw new Error('every JWT key needs a kid');
      if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`JWT key ${jwk.kid} is for ${String(jwk.alg)}, not ${alg}`);
      const isPrivate = typeof jwk.d === 'string';
      const sign = isPrivate ? createPrivateKey({ key: jwk, format: 'jwk' }) : undefined;
      const verify = sign ? createPublicKey(sign) : createPublicKey({ key: jwk, format: 'jwk' });
      checkCurve(alg, verify);
      return { kid: jwk.kid, ...(sign ? { sign } : {}), verify };
    }),
  );

/** A key set that lives as long as the process (dev mode, tests): tokens die with it. */
export const ephemeralKeySet = (alg: JwtAlg = 'HS256', kid = `ephemeral-${randomBytes(4).toString('hex')}`): JwtKeySet => {
  if (alg === 'HS256') return hmacKeySet([{ kid, secret: randomBytes(32).toString('base64url') }]);
  const { privateKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return asymmetricKeySet(alg, [{ ...privateKey.export({ format: 'jwk' }), kid }]);
};
