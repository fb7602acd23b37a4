import { z } from 'zod';

/**
 * Numbers from the environment, written the way an operator reads them: decimal digits only.
 * `Number()` (and so `z.coerce.number()`) would read `1e3` as 1000, `0x10` as 16, ` 12 ` as 12 and
 * an empty value as 0 — each a value the operator did not write; these refuse them.
 */

const INTEGER = /^(0|[1-9][0-9]*)$/;
const SIGNED_INTEGER = /^(0|-?[1-9][0-9]*)$/;
const FRACTION = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

const range = (min: number, max: number | undefined) => (max === undefined ? `of at least ${min}` : `${min}–${max}`);

/**
 * An integer from `min` to `max` (no max: any safe integer from `min`), in decimal digits without
 * leading zeros; a leading `-` only when `min` is negative. `what` names the setting in the message.
 */
export const decimalInt = (min: number, max?: number, what?: string) => {
  const expects = `expected ${what ? `${what}, ` : ''}a decimal integer ${range(min, max)}`;
  const number = z.number({ error: expects }).int(expects).min(min, expects);
  return z
    .string({ error: expects })
    .regex(min < 0 ? SIGNED_INTEGER : INTEGER, expects)
    .transform(Number)
    .pipe(max === undefined ? number : number.max(max, expects));
};

/** A number from `min` to `max` that may have a fraction, in plain decimal notation (`1.5`, not `.5`, `1e0` or `1,5`). */
export const decimalNumber = (min: number, max: number, what?: string) => {
  const expects = `expected ${what ? `${what}, ` : ''}a decimal number ${range(min, max)} (digits, optionally .digits)`;
  return z
    .string({ error: expects })
    .regex(FRACTION, expects)
    .transform(Number)
    .pipe(z.number({ error: expects }).min(min, expects).max(max, expects));
};

/** Is `text` what `decimalInt(min, max)` takes (a port in a list, a count in a pair)? */
export const isDecimalIntIn = (text: string, min: number, max: number): boolean => decimalInt(min, max).safeParse(text).success;
