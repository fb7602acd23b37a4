import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';
import type { TierPrices } from '../../domain/billing/plan.ts';
import type { Tier } from '../../domain/tiers.ts';

const priceId = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'a Stripe price id such as price_…');
const meterName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a meter event name (1–100 of A-Z a-z 0-9 _ . -)');

/** Every variable billing reads. Billing runs only where STRIPE_SECRET_KEY is set. */
export const billingConfigSchema = z.object({
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/, 'expected sk_test_…, sk_live_… or a restricted rk_… key').optional(),
  /** Where Stripe's API answers; a local double's URL in tests. */
  STRIPE_API_URL: z.string().url().default('https://api.stripe.com'),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'expected whsec_…').optional(),
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: decimalInt(1, 3_600).default(300),
  /**
   * `off`: run billing without Stripe's webhooks (no STRIPE_WEBHOOK_SECRET): nothing learns of failed
   * payments, Checkouts or Stripe's tier changes. Without it, STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET.
   */
  STRIPE_WEBHOOKS: z.enum(['on', 'off']).default('on'),
  STRIPE_PRICE_FREE: priceId.optional(),
  STRIPE_PRICE_PRO: priceId.optional(),
  STRIPE_PRICE_ENTERPRISE: priceId.optional(),
  STRIPE_METER_MESSAGES: meterName.default('openclaw_messages'),
  STRIPE_METER_KNIGHT_MINUTES: meterName.default('openclaw_knight_minutes'),
  /**
   * The metered (usage_type=metered) price of each meter, attached as a subscription item beside the
   * tier's flat price so Stripe invoices the usage reported. Unset: that usage is reported, not charged.
   */
  STRIPE_METERED_PRICE_MESSAGES: priceId.optional(),
  STRIPE_METERED_PRICE_KNIGHT_MINUTES: priceId.optional(),
  STRIPE_TIMEOUT_MS: decimalInt(1_000, 120_000).default(20_000),
  /** Retries inside one call (429, 5xx, lost connections; the same idempotency key each time); the job retries after that. */
  STRIPE_MAX_NETWORK_RETRIES: decimalInt(0, 10).default(2),
  /** After `invoice.payment_failed`, how long the tenant keeps working before it is suspended. */
  BILLING_GRACE_SECONDS: decimalInt(0, 90 * 86_400).default(7 * 86_400),
  /** Where Checkout and the customer portal send the tenant back to; default PUBLIC_URL, else http://127.0.0.1:8080/ (runtime/billing.ts). */
  BILLING_RETURN_URL: z.string().url().optional(),
  /** How often billing looks for due work it could not do yet and for grace periods that ended. */
  BILLING_TICK_MS: decimalInt(10, 600_000).default(1_000),
  /** How often the role compares reported usage with the usage read model (0: never; the CLI still can). */
  BILLING_RECONCILE_INTERVAL_SECONDS: decimalInt(0, 7 * 86_400).default(86_400),
  BILLING_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
});
export type BillingConfig = z.infer<typeof billingConfigSchema>;

export const tierPricesOf = (config: BillingConfig): TierPrices => ({
  ...(config.STRIPE_PRICE_FREE ? { free: config.STRIPE_PRICE_FREE } : {}),
  ...(config.STRIPE_PRICE_PRO ? { pro: config.STRIPE_PRICE_PRO } : {}),
  ...(config.STRIPE_PRICE_ENTERPRISE ? { enterprise: config.STRIPE_PRICE_ENTERPRISE } : {}),
});

/** The tier a Stripe price stands for, or null for a price that is none of ours. */
export const tierOfPrice = (prices: TierPrices, price: string | null | undefined): Tier | null => {
  for (const [tier, id] of Object.entries(prices) as [Tier, string][]) if (id === price) return tier;
  return null;
};

export const METERS = ['messages', 'knight_minutes'] as const;
export type Meter = (typeof METERS)[number];
export const meterEventName = (config: BillingConfig, meter: Meter): string =>
  meter === 'messages' ? config.STRIPE_METER_MESSAGES : config.STRIPE_METER_KNIGHT_MINUTES;

/** A meter's metered price (STRIPE_METERED_PRICE_*), or undefined: its usage is reported, not charged. */
export const meteredPriceOf = (config: BillingConfig, meter: Meter): string | undefined =>
  meter === 'messages' ? config.STRIPE_METERED_PRICE_MESSAGES : config.STRIPE_METERED_PRICE_KNIGHT_MINUTES;

/** The metered prices to attach to every subscription (one per meter that has one), in METERS order. */
export const meteredPricesOf = (config: BillingConfig): readonly string[] =>
  METERS.map((meter) => meteredPriceOf(config, meter)).filter((p): p is string => p !== undefined);

/** The meters whose usage is reported but not charged (no metered price configured for them). */
export const unchargedMeters = (config: BillingConfig): readonly Meter[] => METERS.filter((meter) => meteredPriceOf(config, meter) === undefined);

/** Why this configuration must not start (one line naming the variable), or undefined. */
export const billingConfigProblem = (config: BillingConfig): string | undefined =>
  config.STRIPE_SECRET_KEY && !config.STRIPE_WEBHOOK_SECRET && config.STRIPE_WEBHOOKS !== 'off'
    ? 'STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET (whsec_…): without Stripe\'s webhooks a failed payment never suspends anyone and Checkouts are never applied; set STRIPE_WEBHOOKS=off to run so anyway'
    : undefined;
