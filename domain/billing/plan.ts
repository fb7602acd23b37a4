import type { Tier } from '../tiers.ts';
import type { BillingState } from './state.ts';

/** What a tenant event asks of billing. */
export type AccountTrigger =
  | { readonly kind: 'created'; readonly tier: Tier }
  | { readonly kind: 'tier'; readonly tier: Tier }
  | { readonly kind: 'erased' };

/** The Stripe price of each tier that is billed; a tier without one has no subscription. */
export type TierPrices = { readonly [T in Tier]?: string };

/** The next Stripe call that brings the account in line with the trigger, or `done`. */
export type AccountAction =
  | { readonly kind: 'create_customer' }
  /**
   * Erasure of a tenant with no customer recorded: the customer an earlier create may have made (its
   * answer lost, or a crash before its outcome was recorded) is named again by that create's replay (the
   * same idempotency key, the same parameters) and recorded, so it is then deleted as any other.
   */
  | { readonly kind: 'recover_customer' }
  | { readonly kind: 'create_subscription'; readonly priceId: string; readonly tier: Tier }
  | { readonly kind: 'move_subscription'; readonly subscriptionId: string; readonly priceId: string; readonly tier: Tier }
  | { readonly kind: 'cancel_subscription'; readonly subscriptionId: string }
  | { readonly kind: 'delete_customer'; readonly customerId: string }
  | { readonly kind: 'done' };

/**
 * The tier the customer pays for at Stripe, for a tenant on `tenantTier`: the live subscription's (null
 * when its price is none of ours), or `free` when the account's subscription ended (deleted or expired at
 * Stripe) while the tenant is still on a priced tier. null: nothing to apply (no account, an account that
 * never had a subscription, or a tier without a price the tenant was moved to).
 */
export const billedTier = (state: BillingState, tenantTier: Tier, prices: TierPrices): Tier | null => {
  if (state.status !== 'open') return null;
  if (state.subscription) return state.subscription.tier;
  return state.endedSubscriptions.length > 0 && prices[tenantTier] !== undefined ? 'free' : null;
};

/**
 * Pure: the runner carries out the action, records its outcome (a billing command) and asks again
 * until `done`. A tenant from before billing (a tier change, no customer) gets its customer then.
 * Erasure cancels the subscription and deletes the customer (first recovering one created but never
 * recorded); a closed account is never reopened.
 */
export const planAccount = (trigger: AccountTrigger, state: BillingState, prices: TierPrices): AccountAction => {
  if (state.status === 'closed') return { kind: 'done' };
  if (trigger.kind === 'erased') {
    if (state.status === 'none') return { kind: 'recover_customer' };
    if (state.subscription) return { kind: 'cancel_subscription', subscriptionId: state.subscription.id };
    return { kind: 'delete_customer', customerId: state.customerId };
  }
  if (state.status === 'none') return { kind: 'create_customer' };
  const priceId = prices[trigger.tier];
  const current = state.subscription;
  if (priceId === undefined) return current ? { kind: 'cancel_subscription', subscriptionId: current.id } : { kind: 'done' };
  if (!current) return { kind: 'create_subscription', priceId, tier: trigger.tier };
  if (current.priceId !== priceId) return { kind: 'move_subscription', subscriptionId: current.id, priceId, tier: trigger.tier };
  return { kind: 'done' };
};
