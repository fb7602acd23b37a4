import { z } from 'zod';

/** Environment variables of the limits adapter; runtime/config.ts can merge `.shape` into its schema. */
export const limitsConfigSchema = z.object({
  /** Shared rate-limit counters (e.g. redis://127.0.0.1:6379); without it each process counts alone. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  RATE_LIMIT_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('ocs:rl'),
  OPERATOR_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(30),
});
export type LimitsConfig = z.infer<typeof limitsConfigSchema>;
