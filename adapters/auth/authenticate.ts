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

/**
 * The failed-authentications budget of a client address. `spend` counts first and compares after
 * (atomically), so parallel attempts cannot all slip under the limit; past it, it throws 429.
 */
export interface AuthFailureGuard {
  spend(clientKey: string): Promise<void>;
  /** Gives back what `spend` took for an attempt that verified. */
  refund(clientKey: string): Promise<void>;
  /**
   * Vouchers shared by the API processes (Redis): a key that verified on one is no guess on another.
   * Absent, or false when the store cannot answer: only this process's own memory vouches then.
   */
  vouched?(voucher: string): Promise<boolean>;
  vouch?(voucher: string): Promise<void>;
  unvouch?(voucher: string): Promise<void>;
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

/**
 * The failed-attempts lockout stops guesses, not credentials: what cannot be a guess (no credential, a
 * malformed one, a token's signature, the exact API key that verified here before or is vouched for in
 * Redis) is judged at once, served when it verifies and counted when it fails, so a credential that
 * worked is never refused because someone else failed from the same address (NAT, an office, a proxy
 * without X-Forwarded-For). Any other API key — the operator's, one whose record is cached — is counted
 * before it is judged (and given back when it verifies): past the budget it gets 429 whether its secret
 * is right or not, so the answer is no oracle for guesses, a locked-out address gets no more reads, and
 * a burst of parallel guesses no more than the budget.
 */
/**
 * How often a key that keeps verifying here writes its voucher again (it lives 7 days in Redis): without
 * that, a key in daily use lost it after 7 days, or for good when Redis was away at its first
 * verification or restarted empty, and a restarted or added API process then refused it from a
 * locked-out address as if it never worked. One fire-and-forget write per key and process at most this often.
 */
const VOUCHER_RENEW_MS = 10 * 60_000;
const MAX_RENEWALS = 10_000;

export const createAuthenticator = (deps: { apiKeys: ApiKeyVerifier; jwt: JwtService; failures?: AuthFailureGuard; now?: () => number }): Authenticator => {
  const { failures } = deps;
  const now = deps.now ?? Date.now;
  /** Voucher → when this process writes it to the shared store again (see VOUCHER_RENEW_MS). */
  const renewAt = new Map<string, number>();
  const renew = (voucher: string) => {
    if (!failures?.vouch || (renewAt.get(voucher) ?? -Infinity) > now()) return;
    renewAt.delete(voucher);
    if (renewAt.size >= MAX_RENEWALS) renewAt.delete(renewAt.keys().next().value!);
    renewAt.set(voucher, now() + VOUCHER_RENEW_MS);
    void failures.vouch(voucher);
  };
  const apiKey = async (presented: string, client: string, spending: () => void): Promise<Principal> => {
    const voucher = deps.apiKeys.voucherOf(presented);
    const strange = failures !== undefined && deps.apiKeys.unvouched(presented) && !(voucher !== undefined && (await failures.vouched?.(voucher)));
    if (strange) {
      await failures.spend(client);
      spending();
    }
    try {
      const principal = await deps.apiKeys.verify(presented);
      if (strange) await failures.refund(client);
      if (voucher !== undefined) renew(voucher);
      return principal;
    } catch (error) {
      // a vouched key that fails now (revoked, its tenant erased) loses its voucher; a wrong secret has a
      // voucher of its own, so it takes none away
      if (!strange && voucher !== undefined && isHttpError(error) && error.status === 401) {
        renewAt.delete(voucher);
        void failures?.unvouch?.(voucher);
      }
      throw error;
    }
  };
  return {
    async authenticate(req) {
      // A token verified before is no guess: it skips the failed-attempts budget (a store round trip
      // per request when the counters live in Redis) and needs only the revocation check.
      const known = knownToken(req, deps.jwt);
      if (known) {
        await deps.apiKeys.stillValid(known);
        return known;
      }
      const client = req.ip ?? 'unknown';
      let spent = false;
      try {
        const credential = credentialOf(req);
        if (!credential) throw unauthorized('credentials_required', 'this operation needs an API key or a bearer token', false);
        if (credential.kind === 'api_key') return await apiKey(credential.value, client, () => (spent = true));
        const principal = await deps.jwt.verify(credential.value); // a signature check: no read for a forged token
        await deps.apiKeys.stillValid(principal);
        return principal;
      } catch (error) {
        const failed = isHttpError(error) && error.status === 401;
        if (failed && !spent) await deps.failures?.spend(client); // past the budget this throws 429 instead
        if (!failed && spent) await deps.failures?.refund(client); // not a failure: the store was away, …
        throw error;
      }
    },
    stillValid: (principal) => deps.apiKeys.stillValid(principal),
  };
};

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
