import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';
import { asymmetricKeySet, ephemeralKeySet, hmacKeySet, JWT_ALGS } from './jwt-keys.ts';
import type { JwtKeySet } from './jwt-keys.ts';

const OPERATOR_KEY_FORM = /^ocs_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/;
const MIN_DISTINCT_SECRET_CHARACTERS = 8;

/**
 * A rough filter for a hand-made secret, not a measure of randomness: fewer than 8 different characters
 * ("aaaa…", "abab…"), or a block repeated ("admin" or a 16-letter run again and again). A random secret
 * of any common alphabet passes: base64url as minted, or hex (`openssl rand -hex`, at most 16 different
 * characters; 43 random hex digits have fewer than 8 with a chance of about 1 in 10^11).
 */
export const guessableSecret = (secret: string): boolean => {
  if (new Set(secret).size < MIN_DISTINCT_SECRET_CHARACTERS) return true;
  for (let period = 1; period <= secret.length / 2; period++) {
    let repeats = true;
    for (let i = period; i < secret.length && repeats; i++) repeats = secret[i] === secret[i - period];
    if (repeats) return true;
  }
  return false;
};

/** Environment variables of the auth adapter; runtime/config.ts can merge `.shape` into its schema. */
export const authConfigSchema = z.object({
  /** The form fixes the length (a 43-character secret, 256 bits when random); a guessable one is refused (`guessableSecret`). */
  OPERATOR_API_KEY: z
    .string()
    .regex(OPERATOR_KEY_FORM, 'must be an API key of the form ocs_<keyId>_<secret>')
    .refine((key) => !OPERATOR_KEY_FORM.test(key) || !guessableSecret(key.slice(-43)), {
      message: `must have a random secret (at least ${MIN_DISTINCT_SECRET_CHARACTERS} different characters among its 43, no block repeated), like the one dev mints into DATA_DIR/operator-key`,
    })
    .optional(),
  JWT_ALG: z.enum(JWT_ALGS).default('HS256'),
  /** HS256: `kid:secret[,kid:secret…]`, current first; a single bare secret is allowed. */
  JWT_SECRET: z.string().min(32).optional(),
  /** EdDSA/ES256: a JSON array of JWKs with `kid`, the current private key first. */
  JWT_PRIVATE_KEYS: z.string().min(2).optional(),
  JWT_ISSUER: z.string().min(1).default('openclaw-service'),
  JWT_AUDIENCE: z.string().min(1).default('openclaw-api'),
  JWT_TTL_SECONDS: decimalInt(60, 3_600).default(900),
  API_KEY_CACHE_MS: decimalInt(0, 5_000).default(5_000),
});
export type AuthConfig = z.infer<typeof authConfigSchema>;

const parseSecrets = (value: string) =>
  value.split(',').map((entry) => {
    const m = /^([A-Za-z0-9._-]{1,64}):(.+)$/.exec(entry.trim());
    return m ? { kid: m[1]!, secret: m[2]! } : { secret: entry.trim() };
  });

/**
 * The configured key set, or an ephemeral one (with `ephemeral: true`) when none is configured:
 * fine for the embedded dev mode, where tokens need not outlive the process.
 */
export const loadJwtKeySet = (config: Pick<AuthConfig, 'JWT_ALG' | 'JWT_SECRET' | 'JWT_PRIVATE_KEYS'>): { keys: JwtKeySet; ephemeral: boolean } => {
  if (config.JWT_ALG === 'HS256') {
    if (config.JWT_PRIVATE_KEYS) throw new Error('JWT_PRIVATE_KEYS is for EdDSA/ES256; HS256 uses JWT_SECRET');
    return config.JWT_SECRET ? { keys: hmacKeySet(parseSecrets(config.JWT_SECRET)), ephemeral: false } : { keys: ephemeralKeySet('HS256'), ephemeral: true };
  }
  if (config.JWT_SECRET) throw new Error(`JWT_SECRET is for HS256; ${config.JWT_ALG} uses JWT_PRIVATE_KEYS`);
  if (!config.JWT_PRIVATE_KEYS) return { keys: ephemeralKeySet(config.JWT_ALG), ephemeral: true };
  let jwks: unknown;
  try {
    jwks = JSON.parse(config.JWT_PRIVATE_KEYS);
  } catch {
    throw new Error('JWT_PRIVATE_KEYS must be a JSON array of JWKs');
  }
  if (!Array.isArray(jwks) || jwks.length === 0) throw new Error('JWT_PRIVATE_KEYS must be a non-empty JSON array of JWKs');
  return { keys: asymmetricKeySet(config.JWT_ALG, jwks), ephemeral: false };
};
