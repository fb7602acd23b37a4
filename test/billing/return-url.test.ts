import { describe, expect, it } from 'vitest';
import { billingConfigOf, billingReturnUrlOf } from '../../runtime/billing.ts';

/** Kubernetes sets PUBLIC_URL once (webhooks, bridges); Checkout must not send tenants back to the pod's loopback. */
describe('where Checkout and the customer portal send the tenant back', () => {
  const returnUrl = (env: Record<string, string>) => billingReturnUrlOf(billingConfigOf(env), env);

  it('is BILLING_RETURN_URL when set, else the service’s PUBLIC_URL, else the embedded default’s address', () => {
    expect(returnUrl({ BILLING_RETURN_URL: 'https://app.example/billing', PUBLIC_URL: 'https://bots.example.com' })).toBe('https://app.example/billing');
    expect(returnUrl({ PUBLIC_URL: 'https://bots.example.com' })).toBe('https://bots.example.com/');
    expect(returnUrl({ PUBLIC_URL: 'https://bots.example.com/' })).toBe('https://bots.example.com/');
    expect(returnUrl({})).toBe('http://127.0.0.1:8080/');
  });
});
