import Stripe from 'stripe';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { billingDecider } from '../../domain/billing/index.ts';
import type { TierPrices } from '../../domain/billing/index.ts';
import type { BillingLinks } from '../../domain/ports/billing.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { HttpError } from '../http/http-error.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { billingStream } from '../../domain/shared/streams.ts';
import type { StripeCalls } from './stripe-client.ts';

/**
 * A Stripe failure as the tenant's answer: Stripe down or busy is 503 `stripe_unavailable` (retry); the
 * tenant's customer gone at Stripe (deleted there) is 409 `stripe_customer_missing`; any other refusal of
 * our request (say, live mode refusing a localhost BILLING_RETURN_URL) is 502 `stripe_refused` with
 * Stripe's code and the parameter it names, never an opaque 500. Stripe's message stays out of the
 * answer (it may quote the customer).
 */
const unavailable = (error: unknown) => {
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    if (error.code === 'resource_missing' && (error.param === 'customer' || /no such customer/i.test(error.message)))
      return new AppError('conflict', 'stripe_customer_missing', 'this tenant\'s Stripe customer no longer exists at Stripe; an operator has to restore the billing account');
    return new HttpError(502, 'stripe_refused', 'Stripe refused the request; an operator has to check the billing configuration', {
      details: { ...(error.code ? { stripeCode: error.code } : {}), ...(error.param ? { param: error.param } : {}) },
    });
  }
  return error instanceof Stripe.errors.StripeError ? new AppError('unavailable', 'stripe_unavailable', 'Stripe did not answer; try again in a moment') : error;
};

/** Checkout and portal links for a tenant's own Stripe customer (never one named by the request). */
export const createBillingLinks = (deps: { shell: CommandShell; stripe: StripeCalls; prices: TierPrices; returnUrl: string }): BillingLinks => {
  const customerOf = async (tenantId: string) => {
    const { state } = await deps.shell.state(billingDecider, billingStream(asTenantId(tenantId)));
    if (state.status === 'open') return state;
    if (state.status === 'closed') throw new AppError('conflict', 'billing_closed', 'this tenant has no billing account any more');
    throw new AppError('conflict', 'billing_not_ready', 'the billing account is being set up; try again in a few seconds');
  };
  return {
    async checkoutUrl(tenantId, tier) {
      const priceId = deps.prices[tier];
      if (!priceId) throw new AppError('validation', 'tier_not_for_sale', `the ${tier} tier cannot be bought through Checkout`);
      const account = await customerOf(tenantId);
      if (account.subscription?.priceId === priceId) throw new AppError('conflict', 'already_on_tier', `the subscription is already on the ${tier} tier`);
      return deps.stripe.checkoutUrl({ customerId: account.customerId, tenantId, priceId, tier, returnUrl: deps.returnUrl }).catch((error: unknown) => {
        throw unavailable(error);
      });
    },
    async portalUrl(tenantId) {
      const account = await customerOf(tenantId);
      return deps.stripe.portalUrl({ customerId: account.customerId, returnUrl: deps.returnUrl }).catch((error: unknown) => {
        throw unavailable(error);
      });
    },
  };
};
