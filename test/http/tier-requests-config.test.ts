import { describe, expect, it } from 'vitest';
import { httpApiConfigSchema } from '../../adapters/http/index.ts';
import { limitsConfigSchema } from '../../adapters/limits/config.ts';
import { createRateLimits } from '../../adapters/limits/index.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import { ConfigError, parseEnv } from '../../runtime/config.ts';

const parse = (value: string) => limitsConfigSchema.safeParse({ TIER_REQUESTS_PER_MINUTE: value });
const messagesOf = (value: string) => {
  const result = parse(value);
  expect(result.success, value).toBe(false);
  return result.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('TIER_REQUESTS_PER_MINUTE', () => {
  it('is optional: unset, no tier is overridden', () => {
    expect(limitsConfigSchema.parse({}).TIER_REQUESTS_PER_MINUTE).toBeUndefined();
  });

  it('reads tier=n pairs, tolerating spaces; tiers not named are absent', () => {
    expect(parse('free=120,pro=1000').data?.TIER_REQUESTS_PER_MINUTE).toEqual({ free: 120, pro: 1000 });
    expect(parse(' enterprise = 7 , free=1 ').data?.TIER_REQUESTS_PER_MINUTE).toEqual({ enterprise: 7, free: 1 });
    expect(parse('pro=1000000').data?.TIER_REQUESTS_PER_MINUTE).toEqual({ pro: 1_000_000 });
  });

  it.each([
    ['gold=5', /unknown tier "gold" \(tiers: free, pro, enterprise\)/],
    ['Free=5', /unknown tier "Free"/],
    ['free=0', /"free=0".*whole number from 1 to 1,000,000/],
    ['free=1000001', /whole number from 1 to 1,000,000/],
    ['free=-3', /whole number/],
    ['free=1.5', /whole number/],
    ['free=1e3', /whole number/],
    ['free=0x10', /whole number/],
    ['free=abc', /whole number/],
    ['free=', /"free=" is not tier=requests/],
    ['free', /"free" is not tier=requests/],
    ['=5', /"=5" is not tier=requests/],
    ['free:5', /is not tier=requests/],
    ['free=1,free=2', /tier "free" is given twice/],
    ['free=1,,pro=2', /an empty entry/],
    ['free=1,', /an empty entry/],
  ])('refuses %j with a message that says why', (value, expected) => {
    const issues = messagesOf(value);
    expect(issues.every((i) => i.path === 'TIER_REQUESTS_PER_MINUTE')).toBe(true);
    expect(issues.map((i) => i.message).join('\n')).toMatch(expected);
  });

  it('reports every mistake at once', () => {
    const issues = messagesOf('gold=5,free=0,pro=9');
    expect(issues).toHaveLength(2);
  });

  it('is part of the HTTP API configuration, and a mistake there is a ConfigError naming the variable', () => {
    expect(httpApiConfigSchema.parse({ TIER_REQUESTS_PER_MINUTE: 'free=9' }).TIER_REQUESTS_PER_MINUTE).toEqual({ free: 9 });
    expect(() => parseEnv(httpApiConfigSchema, { TIER_REQUESTS_PER_MINUTE: 'gold=5' })).toThrow(ConfigError);
    expect(() => parseEnv(httpApiConfigSchema, { TIER_REQUESTS_PER_MINUTE: 'gold=5' })).toThrow(/TIER_REQUESTS_PER_MINUTE: unknown tier "gold"/);
  });

  it("its values replace those tiers' budgets in the rate limiter; other tiers keep the table's", async () => {
    const tierPerMinute = parse('free=3,enterprise=7').data!.TIER_REQUESTS_PER_MINUTE!;
    const rates = createRateLimits({ keyPrefix: `tier-env-${process.pid}`, tierPerMinute });
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await rates.consume({ kind: 'tenant', tenantId: 'acme', tier: 'free' }));
    expect(decisions.map((d) => [d.limit, d.allowed])).toEqual([[3, true], [3, true], [3, true], [3, false]]);
    expect((await rates.consume({ kind: 'tenant', tenantId: 'acme', tier: 'enterprise' })).limit).toBe(7);
    expect((await rates.consume({ kind: 'tenant', tenantId: 'acme', tier: 'pro' })).limit).toBe(TIER_LIMITS.pro.requestsPerMinute);
  });
});
