import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh webhook secret: 256 random bits as 43 base64url characters, inside what Telegram allows for
 * `secret_token` (1–256 of A-Z a-z 0-9 _ -) and fit for a WhatsApp verify token.
 */
export const generateWebhookSecret = (): string => randomBytes(32).toString('base64url');

/**
 * What is stored of a webhook secret or verify token: its SHA-256 (hex). The secret has 256 random
 * bits, so a fast hash is enough; the plaintext goes to the platform once and is kept nowhere.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/**
 * Whether `candidate` (a header or query value, possibly missing) is the secret whose hash is stored.
 * Both sides are hashed to 32 bytes before a constant-time compare, so neither the content nor the
 * length of the expected secret leaks through timing.
 */
export const secretMatchesHash = (candidate: unknown, expectedHash: string): boolean => {
  if (typeof candidate !== 'string' || candidate === '') return false;
  const expected = Buffer.from(expectedHash, 'hex');
  const actual = createHash('sha256').update(candidate, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
};
