import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { createBillingLinks } from '../../adapters/billing/self-service.ts';
import type { StripeCalls } from '../../adapters/billing/stripe-client.ts';
import { renderError } from '../../adapters/http/problem.ts';
import type { CommandShell } from '../../commands/shell/handle-command.ts';

const open = { status: 'open', customerId: 'cus_gone', subscription: null };
const shell = { state: async () => ({ state: open }) } as unknown as CommandShell;
const refusing = (error: Error): StripeCalls =>
  ({ checkoutUrl: () => Promise.reject(error), portalUrl: () => Promise.reject(error) }) as unknown as StripeCalls;
const invalid = (raw: { message: string; code?: string; param?: string }) =>
  new Stripe.errors.StripeInvalidRequestError({ type: 'invalid_request_error', statusCode: 400, ...raw });
const answer = async (error: Error, call: 'checkout' | 'portal') => {
  const links = createBillingLinks({ shell, stripe: refusing(error), prices: { pro: 'price_pro' }, returnUrl: 'http://localhost:8080/' });
  const thrown = await (call === 'checkout' ? links.checkoutUrl('acme-billing', 'pro') : links.portalUrl('acme-billing')).then(
    () => undefined,
    (e: unknown) => e,
  );
  const rendered = renderError(thrown);
  return rendered && { status: rendered.problem.status, code: rendered.problem.code, detail: rendered.problem.detail, param: rendered.problem.param };
};

describe('Checkout and portal links: Stripe refusing the request is a clear problem, not a 500', () => {
  it('the customer deleted at Stripe: 409 stripe_customer_missing', async () => {
    const gone = invalid({ message: "No such customer: 'cus_gone'", code: 'resource_missing', param: 'customer' });
    expect(await answer(gone, 'portal')).toMatchObject({ status: 409, code: 'stripe_customer_missing' });
    expect(await answer(gone, 'checkout')).toMatchObject({ status: 409, code: 'stripe_customer_missing' });
  });
  it('another refusal (live mode refusing a localhost return URL): 502 stripe_refused naming the parameter, without Stripe\'s message', async () => {
    const url = invalid({ message: 'Not a valid URL: billing@acme.example', code: 'url_invalid', param: 'return_url' });
    const got = await answer(url, 'portal');
    expect(got).toMatchObject({ status: 502, code: 'stripe_refused', param: 'return_url' });
    expect(got?.detail).not.toContain('acme');
  });
  it('Stripe down is still 503 stripe_unavailable', async () => {
    expect(await answer(new Stripe.errors.StripeConnectionError({ message: 'down' }), 'checkout')).toMatchObject({ status: 503, code: 'stripe_unavailable' });
  });
});
