import { hostname } from 'node:os';
import type { Router } from 'express';
import { billingConfigProblem, billingConfigSchema, meteredPricesOf, tierPricesOf, unchargedMeters } from '../adapters/billing/config.ts';
import type { BillingConfig } from '../adapters/billing/config.ts';
import { startBilling } from '../adapters/billing/runner.ts';
import type { RunningBilling } from '../adapters/billing/runner.ts';
import { createBillingLinks } from '../adapters/billing/self-service.ts';
import { createStripeCalls, stripeClientOf } from '../adapters/billing/stripe-client.ts';
import type { SubscriptionPrices } from '../adapters/billing/stripe-client.ts';
import { customersTable } from '../adapters/billing/tables.ts';
import { createStripeWebhook } from '../adapters/billing/webhook.ts';
import type { SqlDb } from '../adapters/event-store/sql/db.ts';
import { sqlState } from '../adapters/event-store/sql/db.ts';
import type { CommandShell } from '../commands/shell/handle-command.ts';
import type { BillingLinks } from '../domain/ports/billing.ts';
import { publicUrlOf } from './channels.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { Logger } from './logger.ts';
import type { Storage } from './stores.ts';

/** The prices billing puts on a subscription: the tiers' flat ones and the metered ones beside them. */
const subscriptionPricesOf = (config: BillingConfig): SubscriptionPrices => ({ tiers: tierPricesOf(config), metered: meteredPricesOf(config) });

/** Billing's variables, or a ConfigError: a bad value, or STRIPE_SECRET_KEY without STRIPE_WEBHOOK_SECRET (unless STRIPE_WEBHOOKS=off). */
export const billingConfigOf = (env: Record<string, string | undefined>): BillingConfig => {
  const config = parseEnv(billingConfigSchema, env);
  const problem = billingConfigProblem(config);
  if (problem) throw new ConfigError(problem);
  return config;
};

/**
 * Where Checkout and the customer portal send the tenant back: BILLING_RETURN_URL, else the service's
 * PUBLIC_URL (what a deployment sets once for webhooks and bridges), else the embedded default's address.
 */
export const billingReturnUrlOf = (config: BillingConfig, env: Record<string, string | undefined>): string =>
  config.BILLING_RETURN_URL ?? `${publicUrlOf(env) ?? 'http://127.0.0.1:8080'}/`;

/** One line on what billing does in this process, for banners and the start-up log. */
export const describeBilling = (config: BillingConfig): string => {
  if (!config.STRIPE_SECRET_KEY) return 'off (STRIPE_SECRET_KEY is unset: nothing is billed)';
  const tiers = Object.keys(tierPricesOf(config));
  const uncharged = unchargedMeters(config);
  const webhooks = config.STRIPE_WEBHOOK_SECRET ? '' : '; WEBHOOKS OFF (STRIPE_WEBHOOKS=off): failed payments never suspend, Checkouts are not applied';
  const usage = uncharged.length === 0 ? 'usage charged' : `usage of ${uncharged.join(', ')} reported but NOT charged (no STRIPE_METERED_PRICE_*)`;
  return `Stripe at ${new URL(config.STRIPE_API_URL).host} (${config.STRIPE_SECRET_KEY.includes('_live_') ? 'live' : 'test'} mode; priced tiers: ${tiers.join(', ') || 'none'}; ${usage}${webhooks})`;
};

/**
 * The API process's side of billing: the Stripe webhook (with STRIPE_WEBHOOK_SECRET) and the
 * Checkout/portal links (with STRIPE_SECRET_KEY). The customer map is the billing role's table: until
 * that role has run once, every webhook names a customer nobody knows.
 */
export const billingHttpOf = (options: { env: Record<string, string | undefined>; shell: CommandShell; db: SqlDb; eventSchema: string; log: Logger }): { webhook: Router; links: BillingLinks | undefined } => {
  const config = billingConfigOf(options.env);
  const prices = tierPricesOf(config);
  const customers = customersTable(options.db, options.eventSchema);
  const webhook = createStripeWebhook({
    shell: options.shell,
    secret: config.STRIPE_WEBHOOK_SECRET,
    toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
    prices,
    meteredPrices: meteredPricesOf(config),
    graceSeconds: config.BILLING_GRACE_SECONDS,
    log: options.log,
    tenantOf: (customerId) =>
      customers.tenantOf(customerId).catch((error: unknown) => {
        if (sqlState(error) === '42P01') return undefined; // the billing role never ran here: no customers yet
        throw error;
      }),
  });
  const links = config.STRIPE_SECRET_KEY
    ? createBillingLinks({ shell: options.shell, stripe: createStripeCalls(stripeClientOf(config, config.STRIPE_SECRET_KEY), subscriptionPricesOf(config)), prices, returnUrl: billingReturnUrlOf(config, options.env) })
    : undefined;
  return { webhook, links };
};

/** Billing on a storage when STRIPE_SECRET_KEY is set; undefined (and a log line saying so) when it is not. */
export const startBillingOn = async (options: {
  storage: Storage;
  shell: CommandShell;
  env: Record<string, string | undefined>;
  eventSchema: string;
  readModelSchema: string;
  log: Logger;
}): Promise<{ running: RunningBilling; describe: string } | undefined> => {
  const config = billingConfigOf(options.env);
  const describe = describeBilling(config);
  if (!config.STRIPE_SECRET_KEY) {
    options.log.info(`billing is ${describe}`);
    return undefined;
  }
  const { storage } = options;
  const running = await startBilling({
    bus: storage.bus,
    codec: storage.codec,
    store: storage.store,
    db: storage.db,
    shell: options.shell,
    stripe: createStripeCalls(stripeClientOf(config, config.STRIPE_SECRET_KEY), subscriptionPricesOf(config)),
    config,
    eventSchema: options.eventSchema,
    readModelSchema: options.readModelSchema,
    instanceId: config.BILLING_INSTANCE_ID ?? hostname(),
    log: options.log,
  });
  options.log.info({ billing: describe }, 'billing running');
  return { running, describe };
};
