import { createHash, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Master keys wrap the tenants' data keys. The current one (`ENCRYPTION_KEY`) wraps new keys;
 * earlier ones (`ENCRYPTION_PREVIOUS_KEYS`) still unwrap until `keys rewrap` has moved every data
 * key to the current one. A key's id is derived from the key itself, so nothing else needs
 * configuring and a data key always names the master key that wraps it.
 */
export interface MasterKey {
  readonly id: string;
  readonly key: KeyObject;
}

export interface MasterKeys {
  readonly current: MasterKey;
  byId(id: string): MasterKey | undefined;
  readonly ids: readonly string[];
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$|^[A-Za-z0-9_-]+$/;

/** 32 bytes, base64 (standard or url-safe alphabet). */
export const masterKeyText = z
  .string()
  .trim()
  .refine((s) => BASE64.test(s), 'must be base64')
  .refine((s) => Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64').length === 32, 'must decode to exactly 32 bytes (openssl rand -base64 32)');

export const encryptionConfigSchema = z.object({
  ENCRYPTION_KEY: masterKeyText.optional(),
  /** Comma-separated earlier master keys, kept while their data keys are re-wrapped. */
  ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .optional()
    .refine((s) => s === undefined || s.split(',').every((k) => masterKeyText.safeParse(k).success), 'each comma-separated key must be 32 bytes of base64'),
});

const decode = (text: string): Buffer => {
  const s = text.trim();
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
};

export const masterKeyId = (bytes: Buffer): string => `mk-${createHash('sha256').update('openclaw master key id\0').update(bytes).digest('hex').slice(0, 16)}`;

export const masterKeysFrom = (current: string, previous: readonly string[] = []): MasterKeys => {
  const make = (text: string): MasterKey => {
    const bytes = decode(text);
    return { id: masterKeyId(bytes), key: createSecretKey(bytes) };
  };
  const all = [make(current), ...previous.map(make)];
  const byId = new Map(all.map((k) => [k.id, k]));
  return { current: all[0]!, byId: (id) => byId.get(id), ids: [...byId.keys()] };
};
