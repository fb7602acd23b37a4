import { errors, jwtVerify, SignJWT } from 'jose';
import type { JWTHeaderParameters } from 'jose';
import { z } from 'zod';
import { TENANT_ID_PATTERN } from '../../domain/shared/ids.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { unauthorized } from '../http/http-error.ts';
import type { JwtKeySet } from './jwt-keys.ts';
import { OPERATOR_TID, SCOPES } from './principal.ts';
import type { Principal } from './principal.ts';

export interface JwtOptions {
  readonly keys: JwtKeySet;
  readonly issuer: string;
  readonly audience: string;
  /** Lifetime of issued tokens (default 900 s). */
  readonly ttlSeconds?: number;
  readonly clockToleranceSeconds?: number;
  readonly now?: () => Date;
}

/** RFC 9068 access tokens: the `typ` keeps other JWTs signed by the same keys from passing as ours. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

const claims = z.object({
  sub: z.string().regex(/^[a-z0-9]{12}$/),
  tid: z.string(),
  scope: z.enum(SCOPES),
});

const principalOf = (c: z.infer<typeof claims>): Principal => {
  if (c.scope === 'operator') {
    if (c.tid !== OPERATOR_TID) throw new Error('operator token bound to a tenant');
    return { scope: 'operator', keyId: c.sub, tenantId: null, via: 'jwt' };
  }
  if (!TENANT_ID_PATTERN.test(c.tid)) throw new Error('bad tid');
  return { scope: c.scope, keyId: c.sub, tenantId: c.tid as TenantId, via: 'jwt' };
};

const reasonOf = (error: unknown): string => {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is missing or not accepted`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  return 'the token is not valid';
};

export type JwtService = ReturnType<typeof createJwtService>;

/** Tokens remembered after a successful verification (past this many, the oldest is forgotten first). */
const MAX_VERIFIED_TOKENS = 10_000;

export const createJwtService = (options: JwtOptions) => {
  const { keys, issuer, audience } = options;
  const ttl = options.ttlSeconds ?? 900;
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSeconds ?? 5;
  /**
   * A token that verified once verifies the same way until it expires — keys only change with a
   * restart — so its principal is kept by the exact token string; any other string, however
   * close, goes through jose. Revocation of the key behind it is checked per request elsewhere.
   */
  const verified = new Map<string, { principal: Principal; exp: number }>();
  const known = (token: string): Principal | undefined => {
    const seen = verified.get(token);
    if (!seen) return undefined;
    if (now().getTime() / 1000 < seen.exp + tolerance) return seen.principal;
    verified.delete(token);
    return undefined;
  };
  const remember = (token: string, principal: Principal, exp: number) => {
    verified.delete(token);
    verified.set(token, { principal, exp });
    if (verified.size > MAX_VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
  };

  const keyFor = (header: JWTHeaderParameters) => {
    const key = header.kid === undefined ? undefined : keys.verificationKey(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  };

  return {
    ttlSeconds: ttl,

    async issue(principal: Principal): Promise<{ token: string; expiresIn: number }> {
      const iat = Math.floor(now().getTime() / 1000);
      const token = await new SignJWT({ tid: principal.tenantId ?? OPERATOR_TID, scope: principal.scope })
        .setProtectedHeader({ alg: keys.alg, kid: keys.current.kid, typ: ACCESS_TOKEN_TYP })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(principal.keyId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttl)
        .sign(keys.current.key);
      return { token, expiresIn: ttl };
    },

    /** Signature, algorithm (pinned), kid, typ, iss, aud, exp, iat and our own claims; any failure is 401. */
    /** The principal of a token this service verified before and that has not expired since. */
    known,

    async verify(token: string): Promise<Principal> {
      const seen = known(token);
      if (seen) return seen;
      try {
        const { payload } = await jwtVerify(token, keyFor, {
          algorithms: [keys.alg],
          issuer,
          audience,
          typ: ACCESS_TOKEN_TYP,
          requiredClaims: ['exp', 'iat', 'sub', 'tid', 'scope'],
          clockTolerance: tolerance,
          currentDate: now(),
        });
        const principal = principalOf(claims.parse(payload));
        remember(token, principal, payload.exp!);
        return principal;
      } catch (error) {
        throw unauthorized('invalid_token', reasonOf(error));
      }
    },
  };
};
