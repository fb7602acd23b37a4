import type { AggregateDecider } from '../events.ts';
import type { BillingCommand } from './commands.ts';
import { decideBilling } from './decide.ts';
import { evolveBilling, initialBillingState } from './state.ts';
import type { BillingState } from './state.ts';

export const billingDecider: AggregateDecider<'billing', BillingCommand, BillingState> = {
  category: 'billing',
  initialState: initialBillingState,
  evolve: evolveBilling,
  decide: decideBilling,
};

export type * from './commands.ts';
export type * from './events.ts';
export type * from './plan.ts';
export type * from './state.ts';
export { BILLING_EVENT_TYPES, PAYMENT_SUSPENSION_REASON } from './events.ts';
export { decideBilling } from './decide.ts';
export { billedTier, planAccount } from './plan.ts';
export { evolveBilling, initialBillingState } from './state.ts';
