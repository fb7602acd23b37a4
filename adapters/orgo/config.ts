import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';

/** Environment variables of the Orgo client; runtime/config.ts merges `.shape` into its schema. */
export const orgoConfigSchema = z.object({
  /** Orgo's API root; the simulator's URL in tests. */
  ORGO_API_URL: z.string().url().default('https://www.orgo.ai/api'),
  /** `sk_live_…`; unset → the embedded default runs the simulated Orgo instead. */
  ORGO_API_KEY: z.string().min(8).optional(),
  /** The workspace the platform's computers live in; unset → one named `openclaw-service`, created if missing. */
  ORGO_WORKSPACE_ID: z.string().min(1).max(128).optional(),
  /** Every call gives up after this long (bash calls: their own timeout plus this). */
  ORGO_TIMEOUT_MS: decimalInt(100, 600_000).default(30_000),
  /** Waits before retrying a 503, comma-separated; Orgo documents 1 s, 2 s, 4 s. */
  ORGO_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d{1,6}(,\d{1,6}){0,9}$/, 'milliseconds separated by commas, e.g. 1000,2000,4000')
    .transform((v) => v.split(',').map(Number))
    .default([1_000, 2_000, 4_000]),
});
export type OrgoConfig = z.infer<typeof orgoConfigSchema>;

export const DEFAULT_WORKSPACE_NAME = 'openclaw-service';
