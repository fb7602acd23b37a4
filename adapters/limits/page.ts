import { z } from 'zod';

export const PAGE_SIZE = { min: 1, max: 100, default: 20 } as const;

/** `?limit=` as a decimal 1..100 (default 20) and an opaque `?cursor=`; anything else is 400. */
export const pageQuery = z.object({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(PAGE_SIZE.min).max(PAGE_SIZE.max))
    .optional()
    .transform((n) => n ?? PAGE_SIZE.default),
  cursor: z.string().min(1).max(512).optional(),
});
