import Stripe from 'stripe';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { billingDecider } from '../../domain/billing/index.ts';
import type { TierPrices } from '../../domain/billing/index.ts';
import type { BillingLinks } from '../../domain/ports/billing.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { billingStream } from '../../domain/shared/streams.ts';
import type { StripeCalls } from './stripe-client.ts';

const unavailable = (error: unknown) =>
  error instanceof Stripe.errors.StripeError && !(error instanceof Stripe.errors.StripeInvalidRequestError)
    ? new AppError('unavailable', 'stripe_unavailable', 'Stripe did not answer; try again in a moment')
    : error;

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
