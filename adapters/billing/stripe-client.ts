import Stripe from 'stripe';
import type { TierPrices } from '../../domain/billing/plan.ts';
import type { Tier } from '../../domain/tiers.ts';
import type { BillingConfig } from './config.ts';

/**
 * The calls billing makes, through the official client. Every POST carries an idempotency key the
 * caller derives from an event id, so a call repeated after a crash (or a lost answer) returns what
 * the first one did instead of making a second customer or subscription.
 */
export interface StripeCalls {
  /**
   * Creates the tenant's customer with `metadata[tenantId]` only: parameters that never change, so the
   * same key (one per tenant) replays the first answer whenever it is sent within Stripe's 24 h, even
   * after the tenant's erasure. The name and email follow with `nameCustomer`.
   */
  createCustomer(key: string, customer: { tenantId: string }): Promise<string>;
  /** Sets the customer's name and email (an update: repeating it changes nothing). */
  nameCustomer(customerId: string, customer: { name: string | null; email: string | null }): Promise<void>;
  createSubscription(key: string, s: { customerId: string; priceId: string; tenantId: string; tier: Tier }): Promise<string>;
  moveSubscription(key: string, s: { subscriptionId: string; priceId: string; tier: Tier }): Promise<void>;
  cancelSubscription(key: string, subscriptionId: string): Promise<void>;
  deleteCustomer(key: string, customerId: string): Promise<void>;
  reportUsage(key: string, e: { eventName: string; customerId: string; value: number; identifier: string; timestamp: number }): Promise<void>;
  /**
   * Adds to a live subscription the metered items it lacks (one made before STRIPE_METERED_PRICE_* were
   * set), each with the idempotency key `metered:<subscription>:<price>`; returns the prices added.
   */
  /**
   * Adds the configured metered prices a subscription lacks; `added` names them. A subscription that
   * already has a metered item of another price (`otherMetered`: a price rotated at Stripe, an item put
   * there by hand) gets none: two metered prices on one meter would charge its usage twice.
   */
  addMissingMeteredItems(subscriptionId: string): Promise<{ readonly added: readonly string[]; readonly otherMetered: readonly string[] }>;
  checkoutUrl(s: { customerId: string; tenantId: string; priceId: string; tier: Tier; returnUrl: string }): Promise<string>;
  portalUrl(s: { customerId: string; returnUrl: string }): Promise<string>;
  readonly client: Stripe;
}

export const stripeClientOf = (config: BillingConfig, secretKey: string): Stripe => {
  const url = new URL(config.STRIPE_API_URL);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(secretKey, {
    host: url.hostname,
    port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443,
    protocol,
    timeout: config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'openclaw-service' },
  });
};

/** Is this failure worth trying again later (Stripe or the way to it is down or busy)? Anything else is our request's fault. */
export const isTransient = (error: unknown): boolean => {
  if (!(error instanceof Stripe.errors.StripeError)) return true;
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeRateLimitError) return true;
  if (error instanceof Stripe.errors.StripeAPIError) return true;
  return typeof error.statusCode === 'number' && (error.statusCode >= 500 || error.statusCode === 409);
};

const METER_EVENT_MAX_AGE_SECONDS = 35 * 24 * 3600;

/**
 * Did Stripe refuse this meter event for good, so that the same event would be refused again until someone
 * fixes its cause (a meter's name, a customer, a timestamp beyond 35 days)? Only an `invalid_request_error`
 * (400 or 404), and not one of these, which go back to the backoff: a 401 or 403 (the key, or a restricted key
 * lacking the meter-events permission: fixed in Stripe's dashboard, no restart of billing involved), an
 * `idempotency_error` (about our key, not the event), and a refused timestamp our clock does not put beyond
 * Stripe's 35 days (a clock apart from Stripe's: the event is accepted once the clocks agree). `timestamp`: the
 * one sent, in unix seconds.
 */
export const isMeterEventRefused = (error: unknown, timestamp: number, nowSeconds: number): boolean => {
  if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) return false;
  if (error.statusCode !== 400 && error.statusCode !== 404) return false;
  if (error.param === 'timestamp' && timestamp >= nowSeconds - METER_EVENT_MAX_AGE_SECONDS) return false;
  return true;
};

/** A missing object at Stripe (deleted by someone else): nothing left to cancel or delete. */
const isMissing = (error: unknown) => error instanceof Stripe.errors.StripeError && error.code === 'resource_missing';

/** The prices billing puts on a subscription: each tier's flat price, and the metered prices every subscription carries beside it. */
export interface SubscriptionPrices {
  readonly tiers: TierPrices;
  readonly metered: readonly string[];
}

/**
 * The subscription's flat tier item: the one whose price is a tier's (by its price, never its
 * position: Stripe does not keep items in order), else the one item that is neither one of our
 * metered prices nor metered at all (a price that is none of ours).
 */
export const tierItemOf = <I extends { price: { id: string; recurring?: { usage_type?: string | null } | null } }>(
  items: readonly I[],
  prices: SubscriptionPrices,
): I | undefined => {
  const tierPrices = Object.values(prices.tiers);
  return (
    items.find((item) => tierPrices.includes(item.price.id)) ??
    items.find((item) => !prices.metered.includes(item.price.id) && item.price.recurring?.usage_type !== 'metered')
  );
};

export const createStripeCalls = (client: Stripe, prices: SubscriptionPrices = { tiers: {}, metered: [] }): StripeCalls => ({
  client,
  async createCustomer(key, c) {
    const customer = await client.customers.create({ metadata: { tenantId: c.tenantId } }, { idempotencyKey: key });
    return customer.id;
  },
  async nameCustomer(customerId, c) {
    if (!c.name && !c.email) return;
    await client.customers.update(customerId, { ...(c.name ? { name: c.name } : {}), ...(c.email ? { email: c.email } : {}) });
  },
  async createSubscription(key, s) {
    const sub = await client.subscriptions.create(
      { customer: s.customerId, items: [{ price: s.priceId }, ...prices.metered.map((price) => ({ price }))], metadata: { tenantId: s.tenantId, tier: s.tier } },
      { idempotencyKey: key },
    );
    return sub.id;
  },
  async moveSubscription(key, s) {
    const sub = await client.subscriptions.retrieve(s.subscriptionId);
    const item = tierItemOf(sub.items.data, prices);
    if (!item) throw new Error(`subscription ${s.subscriptionId} has no tier item to move`);
    if (item.price.id === s.priceId) return;
    await client.subscriptions.update(
      s.subscriptionId,
      { items: [{ id: item.id, price: s.priceId }], metadata: { tier: s.tier }, proration_behavior: 'create_prorations' },
      { idempotencyKey: key },
    );
  },
  async cancelSubscription(key, subscriptionId) {
    await client.subscriptions.cancel(subscriptionId, {}, { idempotencyKey: key }).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  },
  async deleteCustomer(key, customerId) {
    await client.customers.del(customerId, {}, { idempotencyKey: key }).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  },
  async reportUsage(key, e) {
    await client.billing.meterEvents
      .create(
        { event_name: e.eventName, identifier: e.identifier, timestamp: e.timestamp, payload: { stripe_customer_id: e.customerId, value: String(e.value) } },
        { idempotencyKey: key },
      )
      .catch((error: unknown) => {
        // Stripe already holds an event with this identifier: it was reported before
        if (!(error instanceof Stripe.errors.StripeInvalidRequestError && /identifier/i.test(error.message) && /exist|duplicate|already/i.test(error.message))) throw error;
      });
  },
  async addMissingMeteredItems(subscriptionId) {
    const none = { added: [], otherMetered: [] };
    if (prices.metered.length === 0) return none;
    const sub = await client.subscriptions.retrieve(subscriptionId).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    // a subscription that ended (or is gone) bills nothing more: nothing to add to it
    if (!sub || sub.status === 'canceled' || sub.status === 'incomplete_expired') return none;
    const has = new Set(sub.items.data.map((item) => item.price.id));
    const otherMetered = sub.items.data
      .filter((item) => item.price.recurring?.usage_type === 'metered' && !prices.metered.includes(item.price.id))
      .map((item) => item.price.id);
    if (otherMetered.length > 0) return { added: [], otherMetered };
    const missing = prices.metered.filter((price) => !has.has(price));
    // a metered price takes no quantity: Stripe counts it from the meter
    for (const price of missing) await client.subscriptionItems.create({ subscription: subscriptionId, price }, { idempotencyKey: `metered:${subscriptionId}:${price}` });
    return { added: missing, otherMetered: [] };
  },
  async checkoutUrl(s) {
    const session = await client.checkout.sessions.create({
      mode: 'subscription',
      customer: s.customerId,
      client_reference_id: s.tenantId,
      // a metered price takes no quantity: Stripe counts it from the meter
      line_items: [{ price: s.priceId, quantity: 1 }, ...prices.metered.map((price) => ({ price }))],
      metadata: { tenantId: s.tenantId, tier: s.tier },
      subscription_data: { metadata: { tenantId: s.tenantId, tier: s.tier } },
      success_url: s.returnUrl,
      cancel_url: s.returnUrl,
    });
    if (!session.url) throw new Error('Stripe returned a Checkout session without a url');
    return session.url;
  },
  async portalUrl(s) {
    const session = await client.billingPortal.sessions.create({ customer: s.customerId, return_url: s.returnUrl });
    return session.url;
  },
});
