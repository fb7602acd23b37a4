import type { Request, RequestHandler } from 'express';
import { badRequest, insufficientScope, isHttpError, unauthorized } from '../http/http-error.ts';
import { contextOf } from '../http/request-context.ts';
import type { ApiKeyVerifier } from './api-keys.ts';
import type { JwtService } from './jwt.ts';
import type { Principal, Scope } from './principal.ts';

export type Credential = { readonly kind: 'api_key' | 'jwt'; readonly value: string };

/**
 * What authentication reads of a request: its headers and the client address. An express Request
 * is one; a WebSocket upgrade builds one from its credential (see adapters/ws/).
 */
export interface CredentialSource {
  get(header: string): string | undefined;
  readonly ip?: string | undefined;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/** `Authorization: Bearer <ocs_… | jwt>` or `X-Api-Key: ocs_…`; both at once is ambiguous (400). */
export const credentialOf = (req: CredentialSource): Credential | undefined => {
  const authorization = req.get('authorization');
  const apiKey = req.get('x-api-key');
  if (authorization !== undefined && apiKey !== undefined)
    throw badRequest('ambiguous_credentials', 'send either Authorization or X-Api-Key, not both');
  if (apiKey !== undefined) return { kind: 'api_key', value: apiKey.trim() };
  if (authorization === undefined) return undefined;
  const match = BEARER.exec(authorization);
  if (!match) throw unauthorized('invalid_authorization', 'the Authorization header must be "Bearer <token>"');
  const value = match[1]!;
  return { kind: value.startsWith('ocs_') ? 'api_key' : 'jwt', value };
};

export interface AuthFailureGuard {
  /** Throws a 429 when this client already failed too often. */
  check(clientKey: string): Promise<void>;
  record(clientKey: string): Promise<void>;
}

export interface Authenticator {
  authenticate(req: CredentialSource): Promise<Principal>;
  /** Throws 401 once the key behind an authenticated principal is revoked or gone (a long-lived socket asks again). */
  stillValid(principal: Principal): Promise<void>;
}

/** The principal of a bearer token the JWT service verified before; undefined for anything else. */
const knownToken = (req: CredentialSource, jwt: JwtService): Principal | undefined => {
  const authorization = req.get('authorization');
  if (authorization === undefined || req.get('x-api-key') !== undefined) return undefined;
  const match = BEARER.exec(authorization);
  return match && !match[1]!.startsWith('ocs_') ? jwt.known(match[1]!) : undefined;
};

export const createAuthenticator = (deps: { apiKeys: ApiKeyVerifier; jwt: JwtService; failures?: AuthFailureGuard }): Authenticator => ({
  async authenticate(req) {
    // A token verified before is no guess: it skips the failed-attempts check (a store round trip
    // per request when the counters live in Redis) and needs only the revocation check.
    const known = knownToken(req, deps.jwt);
    if (known) {
      await deps.apiKeys.stillValid(known);
      return known;
    }
    const client = req.ip ?? 'unknown';
    await deps.failures?.check(client);
    try {
      const credential = credentialOf(req);
      if (!credential) throw unauthorized('credentials_required', 'this operation needs an API key or a bearer token', false);
      if (credential.kind === 'api_key') return await deps.apiKeys.verify(credential.value);
      const principal = await deps.jwt.verify(credential.value);
      await deps.apiKeys.stillValid(principal);
      return principal;
    } catch (error) {
      if (isHttpError(error) && error.status === 401) await deps.failures?.record(client);
      throw error;
    }
  },
  stillValid: (principal) => deps.apiKeys.stillValid(principal),
});

/** Resolves the principal once per request and keeps it on the request context. */
export const authenticate =
  (authenticator: Authenticator): RequestHandler =>
  async (req, _res, next) => {
    contextOf(req).principal = await authenticator.authenticate(req);
    next();
  };

export const principalOf = (req: Request): Principal => {
  const principal = contextOf(req).principal;
  if (!principal) throw unauthorized('credentials_required', 'this operation needs an API key or a bearer token', false);
  return principal;
};

export const requireScope =
  (scopes: readonly Scope[]): RequestHandler =>
  (req, _res, next) => {
    if (!scopes.includes(principalOf(req).scope)) throw insufficientScope(scopes);
    next();
  };
