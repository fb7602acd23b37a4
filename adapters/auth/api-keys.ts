import { createHash, timingSafeEqual } from 'node:crypto';
import { hashApiKeySecret, parseApiKey } from '../../commands/tenants/api-keys.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import type { ApiKeyRecord } from '../../projections/read-side.ts';
import { unauthorized } from '../http/http-error.ts';
import type { Principal } from './principal.ts';

export type FindApiKey = (keyId: string) => Promise<ApiKeyRecord | undefined>;

export interface ApiKeyVerifierOptions {
  /** Usually `readSide.findApiKey`; tests pass an in-memory map. */
  readonly findApiKey: FindApiKey;
  /** `ocs_<keyId>_<secret>`; without it no operator credential exists. */
  readonly operatorApiKey?: string | undefined;
  /** How long a found key record is reused (default 5 000 ms, at most 5 000; 0 disables). */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

const DUMMY_HASH = '0'.repeat(64);
const MAX_CACHED = 10_000;

/** Constant-time comparison of two sha256 hex digests (a malformed stored hash never matches). */
export const sameHash = (expectedHex: string, actualHex: string): boolean => {
  const expected = Buffer.from(/^[0-9a-f]{64}$/.test(expectedHex) ? expectedHex : DUMMY_HASH, 'hex');
  const actual = Buffer.from(actualHex, 'hex');
  return timingSafeEqual(expected, actual) && expectedHex !== DUMMY_HASH;
};

export type ApiKeyVerifier = ReturnType<typeof createApiKeyVerifier>;

/**
 * API keys are looked up by their public id and compared by hash. Records are cached for at most
 * 5 s, so a revocation made elsewhere takes effect within 5 s of the read model applying it; one
 * made through this process (`markRevoked`) takes effect at once.
 */
export const createApiKeyVerifier = (options: ApiKeyVerifierOptions) => {
  const ttl = Math.min(Math.max(options.cacheTtlMs ?? 5_000, 0), 5_000);
  const now = options.now ?? Date.now;
  const operator = options.operatorApiKey === undefined ? undefined : parseApiKey(options.operatorApiKey);
  if (options.operatorApiKey !== undefined && !operator) throw new Error('OPERATOR_API_KEY is not of the form ocs_<keyId>_<secret>');
  const operatorHash = operator ? hashApiKeySecret(operator.secret) : undefined;
  const cache = new Map<string, { record: ApiKeyRecord; until: number }>();
  const revokedHere = new Set<string>();
  /** Key id → hash of the secret that verified here: a repeat of that exact key is no guess (see `unvouched`). */
  const verifiedHere = new Map<string, string>();
  const vouch = (keyId: string, hash: string) => {
    verifiedHere.delete(keyId);
    if (verifiedHere.size >= MAX_CACHED) verifiedHere.delete(verifiedHere.keys().next().value!);
    verifiedHere.set(keyId, hash);
  };

  /** See `voucherOf`: the voucher of key id `keyId` whose secret hashes to `secretHash`. */
  const voucherFor = (keyId: string, secretHash: string) => createHash('sha256').update(`voucher:${keyId}:${secretHash}`).digest('hex');

  const lookup = async (keyId: string): Promise<ApiKeyRecord | undefined> => {
    if (revokedHere.has(keyId)) return undefined;
    const hit = cache.get(keyId);
    if (hit && hit.until > now()) return hit.record;
    cache.delete(keyId);
    const record = await options.findApiKey(keyId);
    // Misses are not cached: a key just issued must work as soon as the read model has it.
    if (record && ttl > 0) {
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(keyId, { record, until: now() + ttl });
    }
    return record;
  };

  const tenantPrincipal = (record: ApiKeyRecord, via: 'api_key' | 'jwt'): Principal => ({
    scope: record.scope,
    keyId: record.keyId,
    tenantId: asTenantId(record.tenantId),
    via,
  });

  return {
    operatorKeyId: operator?.keyId,

    async verify(presented: string): Promise<Principal> {
      const parsed = parseApiKey(presented);
      if (!parsed) throw unauthorized('invalid_api_key', 'the API key is malformed');
      const presentedHash = hashApiKeySecret(parsed.secret);
      if (operator && parsed.keyId === operator.keyId) {
        if (!sameHash(operatorHash!, presentedHash)) throw unauthorized('invalid_api_key', 'the API key is not valid');
        vouch(operator.keyId, presentedHash);
        return { scope: 'operator', keyId: operator.keyId, tenantId: null, via: 'api_key' };
      }
      const record = await lookup(parsed.keyId);
      const matches = sameHash(record?.hash ?? DUMMY_HASH, presentedHash);
      // only the key that verified loses its voucher: a wrong secret for its id (anyone's guess) must not
      if (!record || !matches || record.revoked) {
        if (verifiedHere.get(parsed.keyId) === presentedHash) verifiedHere.delete(parsed.keyId);
        throw record && matches ? unauthorized('api_key_revoked', 'the API key has been revoked') : unauthorized('invalid_api_key', 'the API key is not valid');
      }
      vouch(parsed.keyId, presentedHash);
      return tenantPrincipal(record, 'api_key');
    },

    /**
     * What stands for this exact key (id and secret) among the API processes' shared vouchers: a
     * hash of the secret's hash, so a voucher store holds nothing that opens anything. Undefined for
     * a malformed key (it never verifies).
     */
    voucherOf(presented: string): string | undefined {
      const parsed = parseApiKey(presented);
      if (!parsed) return undefined;
      return voucherFor(parsed.keyId, hashApiKeySecret(parsed.secret));
    },

    /**
     * Whether `presented` could be a guess: anything but the exact key (id and secret) that verified
     * on this process before, a malformed key, or a key revoked here (those two never verify, so their
     * answer tells nothing). The operator's key and a key whose record is cached are compared in
     * memory, yet they count too: were they judged before the budget, a locked-out address would get
     * 429 for a wrong secret and 200 for the right one, an answer to unlimited guesses. The
     * failed-attempts lockout counts what this says before it is verified; the rest is checked at
     * once, so a key that verified here before is served from an address that is locked out.
     */
    unvouched(presented: string): boolean {
      const parsed = parseApiKey(presented);
      if (!parsed || revokedHere.has(parsed.keyId)) return false;
      const vouched = verifiedHere.get(parsed.keyId);
      return vouched === undefined || !sameHash(vouched, hashApiKeySecret(parsed.secret));
    },

    /** A JWT is only as good as the key it was exchanged for: that key must still exist, unrevoked, unchanged. */
    async stillValid(principal: Principal): Promise<void> {
      if (principal.scope === 'operator') {
        if (principal.keyId !== operator?.keyId) throw unauthorized('api_key_revoked', 'the operator key behind this token has changed');
        return;
      }
      const record = await lookup(principal.keyId);
      if (!record || record.revoked || record.tenantId !== principal.tenantId || record.scope !== principal.scope)
        throw unauthorized('api_key_revoked', 'the API key behind this token has been revoked');
    },

    /**
     * The key stops working here at once. Resolves to its voucher (see `voucherOf`), for the caller to
     * take out of the shared store: from the hash this process knows, else from one read of its record
     * (undefined when that fails or finds none).
     */
    async markRevoked(keyId: string): Promise<string | undefined> {
      const known = cache.get(keyId)?.record.hash ?? verifiedHere.get(keyId);
      cache.delete(keyId);
      verifiedHere.delete(keyId);
      if (revokedHere.size >= MAX_CACHED) revokedHere.delete(revokedHere.values().next().value!);
      revokedHere.add(keyId);
      const hash = known ?? (await options.findApiKey(keyId).catch(() => undefined))?.hash;
      return hash === undefined ? undefined : voucherFor(keyId, hash);
    },
  };
};
