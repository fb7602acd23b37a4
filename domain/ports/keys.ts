import { AppError } from '../shared/errors.ts';

/**
 * The KeyService port: one data key per tenant (AES-256-GCM), wrapped by a master key and kept
 * where it can be deleted (not in the immutable log). Deleting it makes every encrypted field of
 * that tenant unreadable everywhere at once (crypto-shredding).
 */

/** Encrypts and decrypts with one tenant's data key. Synchronous: the key is already in memory. */
export interface TenantCipher {
  /** Ciphertext bound to `aad` (tenant, stream and field): it decrypts only with the same `aad`. */
  seal(aad: string, plaintext: string): string;
  /** The plaintext, or undefined when the ciphertext or its `aad` was tampered with (or it is not a ciphertext). */
  open(aad: string, sealed: string): string | undefined;
  /**
   * A keyed stand-in for one personal value that must serve as a key (a bot user's chat id, a
   * platform's message id): the same `kind` and `value` give the same pseudonym for this tenant, so
   * a second message finds the first one's conversation; without the tenant's key nobody can tell
   * which value it stands for, and once the key is erased nobody ever can. 32 hexadecimal digits.
   */
  pseudonym(kind: string, value: string): string;
}

/** Refusal of a process that holds no master key: it can neither seal a field nor make a pseudonym. */
export const encryptionUnavailable = (): AppError => new AppError('unavailable', 'encryption_unavailable', 'this process holds no encryption keys (ENCRYPTION_KEY)');

/** One tenant's pseudonyms (see `TenantCipher.pseudonym`). */
export type Pseudonymize = (kind: string, value: string) => string;

export interface KeyService {
  /**
   * The tenant's cipher. `undefined` when its key was erased, or when it has none and `create` is
   * false. With `create`, a tenant without a key gets one (concurrent callers agree on one key);
   * an erased tenant never gets a new one.
   */
  cipherFor(tenantId: string, options?: { readonly create?: boolean }): Promise<TenantCipher | undefined>;
  /** Deletes the tenant's data key for good; its ciphertexts become unreadable. Idempotent. */
  erase(tenantId: string): Promise<void>;
  /** Re-wraps every data key under the current master key; no event is touched. */
  rewrap(): Promise<{ readonly rewrapped: number }>;
  /** Every tenant's data key as stored, still wrapped (or the tombstone of an erased one): for backups. */
  exportWrapped(): Promise<WrappedDataKey[]>;
  /** Loads keys from a backup; a tenant that has a key or a tombstone here already is refused. */
  importWrapped(keys: readonly WrappedDataKey[]): Promise<void>;
}

/** A data key as a backup carries it: never in plaintext; erased ones as tombstones. */
export interface WrappedDataKey {
  readonly tenantId: string;
  readonly masterKeyId: string | null;
  /** Base64 of the data key sealed by the master key; null once erased. */
  readonly wrapped: string | null;
  readonly createdAt: string;
  readonly erasedAt: string | null;
}

/** What a field reads as once its tenant's key is gone. */
export const ERASED_MARKER = '[erased]';
/** What a secret field reads as where secrets are not revealed (views, dashboards). */
export const SECRET_MARKER = '[secret]';
