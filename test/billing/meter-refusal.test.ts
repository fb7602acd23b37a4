import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { isMeterEventRefused } from '../../adapters/billing/stripe-client.ts';

const now = 1_800_000_000;
const stripeError = (statusCode: number, type: 'invalid_request_error' | 'idempotency_error' | 'api_error', extra: { param?: string; code?: string } = {}) =>
  Stripe.errors.StripeError.generate({ statusCode, type, message: 'refused', ...extra });

describe('which refusals of a meter event park the report until billing restarts', () => {
  it('a definite refusal of the event (a missing meter, a customer gone, a timestamp beyond 35 days) parks it', () => {
    expect(isMeterEventRefused(stripeError(400, 'invalid_request_error', { param: 'event_name' }), now, now)).toBe(true);
    expect(isMeterEventRefused(stripeError(404, 'invalid_request_error', { code: 'resource_missing' }), now, now)).toBe(true);
    expect(isMeterEventRefused(stripeError(400, 'invalid_request_error', { param: 'timestamp' }), now - 36 * 86_400, now)).toBe(true);
  });

  it('a key refused or lacking permissions, an idempotency_error, or a recent timestamp refused (clocks apart) goes back to the backoff', () => {
    expect(isMeterEventRefused(stripeError(401, 'invalid_request_error'), now, now)).toBe(false);
    expect(isMeterEventRefused(stripeError(403, 'invalid_request_error'), now, now)).toBe(false);
    expect(isMeterEventRefused(stripeError(400, 'idempotency_error'), now, now)).toBe(false);
    expect(isMeterEventRefused(stripeError(400, 'invalid_request_error', { param: 'timestamp' }), now - 60, now)).toBe(false);
    expect(isMeterEventRefused(stripeError(503, 'api_error'), now, now)).toBe(false);
  });
});
