import { z } from 'zod';

/**
 * A port to listen on, from the environment: decimal digits only. `1e3`, `0x50`, `80.0` or ` 80`
 * are refused rather than read as numbers. 0 asks the system for any free port (tests, `npm start`
 * beside another copy).
 */
export const listenPort = (what: string) => {
  const expects = `expected ${what}, a decimal integer 0–65535`;
  return z
    .string({ error: expects })
    .regex(/^(0|[1-9][0-9]{0,4})$/, expects)
    .transform(Number)
    .refine((port) => port <= 65_535, expects);
};
