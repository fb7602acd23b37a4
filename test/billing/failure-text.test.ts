import { describe, expect, it } from 'vitest';
import { failureText } from '../../adapters/billing/worker.ts';

describe("a billing job's failure, as the log and the job's row keep it", () => {
  it("masks an email address Stripe's refusal quotes (the tenant's, personal data) and keeps the rest", () => {
    const refusal = Object.assign(new Error("Invalid email address: 'ada.lovelace+billing@example.co.uk'"), { name: 'StripeInvalidRequestError' });
    expect(failureText(refusal)).toBe("StripeInvalidRequestError: Invalid email address: '<email>'");
    expect(failureText(new Error('connect ECONNREFUSED 127.0.0.1:12111'))).toBe('Error: connect ECONNREFUSED 127.0.0.1:12111');
    expect(failureText('ada@example.com went away')).toBe('<email> went away');
  });
});
