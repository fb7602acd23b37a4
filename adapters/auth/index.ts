import type { RequestHandler } from 'express';
import { unauthorized } from '../http/http-error.ts';
import { createApiKeyVerifier } from './api-keys.ts';
import type { FindApiKey } from './api-keys.ts';
import { authenticate, createAuthenticator, requireScope } from './authenticate.ts';
import type { AuthFailureGuard } from './authenticate.ts';
import { createJwtService } from './jwt.ts';
import type { JwtKeySet } from './jwt-keys.ts';
import type { Principal, Scope } from './principal.ts';

export interface AuthDeps {
  /** `readSide.findApiKey` in the service; an in-memory lookup in tests. */
  readonly findApiKey: FindApiKey;
  readonly operatorApiKey?: string | undefined;
  readonly keys: JwtKeySet;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds?: number;
  readonly apiKeyCacheMs?: number;
  /** Per-client throttle of failed authentications (from the limits adapter). */
  readonly failures?: AuthFailureGuard;
  readonly now?: () => Date;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: Scope;
}

export type Auth = ReturnType<typeof createAuth>;

export const createAuth = (deps: AuthDeps) => {
  const now = deps.now ?? (() => new Date());
  const apiKeys = createApiKeyVerifier({
    findApiKey: deps.findApiKey,
    operatorApiKey: deps.operatorApiKey,
    ...(deps.apiKeyCacheMs !== undefined ? { cacheTtlMs: deps.apiKeyCacheMs } : {}),
    now: () => now().getTime(),
  });
  const jwt = createJwtService({
    keys: deps.keys,
    issuer: deps.issuer,
    audience: deps.audience,
    ...(deps.ttlSeconds !== undefined ? { ttlSeconds: deps.ttlSeconds } : {}),
    now,
  });
  const authenticator = createAuthenticator({ apiKeys, jwt, ...(deps.failures ? { failures: deps.failures } : {}), now: () => now().getTime() });
  return {
    authenticator,
    authenticate: authenticate(authenticator),
    requireScope: (scopes: readonly Scope[]): RequestHandler => requireScope(scopes),
    /**
     * Call after revoking a key through this process: it stops working here at once, and its voucher
     * (Redis) goes, so no API process takes it for a key that verified before (a store read each).
     */
    async markRevoked(keyId: string): Promise<void> {
      const voucher = await apiKeys.markRevoked(keyId);
      if (voucher !== undefined) await deps.failures?.unvouch?.(voucher);
    },
    /** Only an API key can be exchanged: a token cannot renew itself past its key's revocation. */
    async issueToken(principal: Principal): Promise<TokenResponse> {
      if (principal.via !== 'api_key') throw unauthorized('api_key_required', 'exchange an API key, not a token, for a token');
      const { token, expiresIn } = await jwt.issue(principal);
      return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: principal.scope };
    },
    jwks: () => deps.keys.jwks(),
  };
};

export type { Principal, Scope } from './principal.ts';
export { SCOPES } from './principal.ts';
