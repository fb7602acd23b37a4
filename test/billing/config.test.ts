import { describe, expect, it } from 'vitest';
import { billingConfigOf, describeBilling } from '../../runtime/billing.ts';

const KEY = 'sk_test_0123456789abcdef';

describe('billing configuration: a secret key without the webhook secret', () => {
  it('refuses to start, in one line naming STRIPE_WEBHOOK_SECRET', () => {
    expect(() => billingConfigOf({ STRIPE_SECRET_KEY: KEY })).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/^STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET[^\n]*STRIPE_WEBHOOKS=off[^\n]*$/) }));
  });
  it('starts with STRIPE_WEBHOOKS=off, and the banner says loudly that webhooks are off', () => {
    expect(describeBilling(billingConfigOf({ STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOKS: 'off' }))).toContain('WEBHOOKS OFF (STRIPE_WEBHOOKS=off): failed payments never suspend');
  });
  it('starts with the webhook secret, or with billing off', () => {
    expect(describeBilling(billingConfigOf({ STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRET: 'whsec_0123456789' }))).not.toContain('WEBHOOKS OFF');
    expect(describeBilling(billingConfigOf({}))).toMatch(/^off/);
    expect(() => billingConfigOf({ STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOKS: 'maybe' })).toThrow(/STRIPE_WEBHOOKS/);
  });
});
