import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ENV_SCHEMA } from '../../runtime/config-schema.ts';
import { parseEnv } from '../../runtime/config.ts';

/**
 * Every variable whose value is a number, read from the schema itself (its output type), so a
 * variable added later is checked here without a line of this file changing.
 */
const properties = (z.toJSONSchema(ENV_SCHEMA, { io: 'output', unrepresentable: 'any' }) as { properties: Record<string, { type?: string; minimum?: number; maximum?: number }> }).properties;
const numeric = Object.entries(properties)
  .filter(([, p]) => p.type === 'integer' || p.type === 'number')
  .map(([name, p]) => ({ name, integer: p.type === 'integer', min: p.minimum ?? 0, max: p.maximum ?? Number.MAX_SAFE_INTEGER }));

const issuesOf = (name: string, value: string) => {
  const parsed = ENV_SCHEMA.safeParse({ [name]: value });
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
};

describe('numeric settings are written in plain decimal digits', () => {
  it('the schema knows its numeric variables (the list below is not empty by accident)', () => {
    expect(numeric.map((n) => n.name)).toEqual(expect.arrayContaining(['PORT', 'PG_POOL_SIZE', 'KAFKA_PARTITIONS', 'READY_MAX_LAG_SECONDS', 'BILLING_TICK_MS']));
  });

  // Number() reads 1e3 as 1000, 0x10 as 16, ' 12 ' as 12 and '' as 0: none of them is what was written
  describe.each(numeric)('$name', ({ name, integer, min, max }) => {
    it.each(['1e3', '0x10', '', ' 12 ', '+5', '1_000', 'Infinity'])('refuses %j, naming the variable', (value) => {
      expect(issuesOf(name, value)).toEqual([name]);
    });

    it('refuses a non-empty bad value at start-up with one line naming the variable, what it expects and what it got (a number is no secret)', () => {
      expect(() => parseEnv(ENV_SCHEMA, { [name]: '0x10' })).toThrow(new RegExp(`^invalid configuration: ${name}: expected .*a decimal (integer|number) .*\\(got "0x10"\\)$`));
    });

    it('accepts a plain value within its bounds, and refuses one just outside them', () => {
      const valid = String(Math.min(Math.max(min, 1), max));
      expect(ENV_SCHEMA.parse({ [name]: valid })[name as keyof z.output<typeof ENV_SCHEMA>]).toBe(Number(valid));
      expect(issuesOf(name, String(max + 1 > Number.MAX_SAFE_INTEGER ? '9'.repeat(20) : max + 1))).toEqual([name]);
      if (min > 0) expect(issuesOf(name, String(min - 1))).toEqual([name]);
      expect(issuesOf(name, '-1')).toEqual([name]);
      if (integer) expect(issuesOf(name, `${valid}.0`)).toEqual([name]);
      else expect(ENV_SCHEMA.parse({ [name]: `${valid}.5` })[name as keyof z.output<typeof ENV_SCHEMA>]).toBe(Number(valid) + 0.5);
    });
  });

  it.each([
    ['KAFKA_BROKERS', '127.0.0.1:99999', /^invalid configuration: KAFKA_BROKERS: expected host:port\[,host:port…\], each port 1–65535 \(got "127.0.0.1:99999"\)$/],
    ['KAFKA_BROKERS', 'a:9092,b:0', /KAFKA_BROKERS: expected host:port/],
    ['KAFKA_BROKERS', 'a:09092', /KAFKA_BROKERS: expected host:port/],
    ['TIER_REQUESTS_PER_MINUTE', 'free=0120', /TIER_REQUESTS_PER_MINUTE: "free=0120": requests a minute must be a whole number from 1 to 1,000,000, in decimal digits/],
    ['TIER_REQUESTS_PER_MINUTE', 'free=1e3', /TIER_REQUESTS_PER_MINUTE: "free=1e3"/],
  ])('numbers inside %s=%s are decimal and in range too', (name, value, expected) => {
    expect(() => parseEnv(ENV_SCHEMA, { [name]: value })).toThrow(expected);
  });

  it('those lists still take what an operator writes', () => {
    const parsed = parseEnv(ENV_SCHEMA, { KAFKA_BROKERS: 'kafka-0.kafka:9092,127.0.0.1:65535', TIER_REQUESTS_PER_MINUTE: 'free=120, pro=1000000' });
    expect(parsed.KAFKA_BROKERS).toBe('kafka-0.kafka:9092,127.0.0.1:65535');
    expect(parsed.TIER_REQUESTS_PER_MINUTE).toEqual({ free: 120, pro: 1_000_000 });
  });

  it('an empty value in the environment still means unset (its default), as documented', () => {
    expect(parseEnv(ENV_SCHEMA, { PG_POOL_SIZE: '' }).PG_POOL_SIZE).toBe(8);
  });
});
