import express from 'express';
import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import Stripe from 'stripe';
import { z } from 'zod';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { billingDecider } from '../../domain/billing/index.ts';
import type { BillingCommand, TierPrices } from '../../domain/billing/index.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { billingStream } from '../../domain/shared/streams.ts';
import { isTier } from '../../domain/tiers.ts';
import { problem, PROBLEM_CONTENT_TYPE, renderError, sendProblem as sendRendered } from '../http/problem.ts';
import { countWebhooks, webhookOutcome } from '../telemetry/webhooks.ts';
import { tierOfPrice } from './config.ts';
import { tierItemOf } from './stripe-client.ts';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

const id = z.string().regex(/^[\x21-\x7e]{1,255}$/);
/** An expandable field: Stripe sends the id, or the object when it was expanded. */
const expandable = z.union([id, z.object({ id })]).transform((c) => (typeof c === 'string' ? c : c.id));
const subscriptionObject = z.object({
  id,
  customer: expandable,
  status: id,
  items: z.object({ data: z.array(z.object({ price: z.object({ id, recurring: z.object({ usage_type: z.string().nullable().optional() }).nullable().optional() }) })) }),
});
/**
 * The subscription an invoice was issued for: `parent.subscription_details.subscription` since
 * Stripe's API version 2025-03-31 (basil), the top-level `subscription` before; a one-off invoice has neither.
 */
const invoiceObject = z
  .object({
    id,
    customer: expandable,
    parent: z.object({ subscription_details: z.object({ subscription: expandable }).nullable().optional() }).nullable().optional(),
    subscription: expandable.nullable().optional(),
  })
  .transform((invoice) => ({
    id: invoice.id,
    customer: invoice.customer,
    subscriptionId: invoice.parent?.subscription_details?.subscription ?? invoice.subscription ?? null,
  }));
const checkoutObject = z.object({
  id,
  customer: expandable.nullable(),
  mode: z.string(),
  subscription: expandable.nullable(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
});

type Mapped = { readonly customer: string; readonly command: (at: string) => BillingCommand } | { readonly ignored: string };

/** The webhook's Stripe event as a billing command for the customer's tenant, or why it is ignored. */
const mapEvent = (event: Stripe.Event, prices: TierPrices, meteredPrices: readonly string[], graceSeconds: number): Mapped => {
  const mark = { stripeEventId: event.id, created: event.created };
  const object: unknown = event.data.object;
  switch (event.type) {
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const sub = subscriptionObject.safeParse(object);
      if (!sub.success) return { ignored: 'unexpected_shape' };
      // the flat tier item, by its price: the metered items beside it say nothing about the tier
      const priceId = tierItemOf(sub.data.items.data, { tiers: prices, metered: meteredPrices })?.price.id ?? null;
      const status = event.type === 'customer.subscription.deleted' ? 'canceled' : sub.data.status;
      return {
        customer: sub.data.customer,
        command: (at) => ({ type: 'ApplySubscriptionUpdate', ...mark, subscriptionId: sub.data.id, status, priceId, tier: tierOfPrice(prices, priceId), at }),
      };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const invoice = invoiceObject.safeParse(object);
      if (!invoice.success) return { ignored: 'unexpected_shape' };
      const graceEndsAt = new Date((event.created + graceSeconds) * 1_000).toISOString();
      return {
        customer: invoice.data.customer,
        command: (at) => ({
          type: 'ApplyInvoice',
          ...mark,
          invoiceId: invoice.data.id,
          subscriptionId: invoice.data.subscriptionId,
          paid: event.type === 'invoice.paid',
          graceEndsAt,
          at,
        }),
      };
    }
    case 'invoice.voided': {
      const invoice = invoiceObject.safeParse(object);
      if (!invoice.success) return { ignored: 'unexpected_shape' };
      return { customer: invoice.data.customer, command: (at) => ({ type: 'ApplyInvoiceVoided', ...mark, invoiceId: invoice.data.id, at }) };
    }
    // the business gave up collecting, yet the invoice is still unpaid: a failure stands (see docs/billing.md)
    case 'invoice.marked_uncollectible':
      return { ignored: 'invoice_still_unpaid' };
    case 'checkout.session.completed': {
      const session = checkoutObject.safeParse(object);
      if (!session.success) return { ignored: 'unexpected_shape' };
      const { customer, subscription, mode, metadata } = session.data;
      const tier = metadata?.tier;
      if (mode !== 'subscription' || !customer || !subscription || !isTier(tier) || !prices[tier]) return { ignored: 'not_a_tier_purchase' };
      const priceId = prices[tier];
      return { customer, command: (at) => ({ type: 'ApplyCheckout', ...mark, sessionId: session.data.id, subscriptionId: subscription, priceId, tier, at }) };
    }
    default:
      return { ignored: 'event_type_not_handled' };
  }
};

const sendProblem = (res: Response, status: number, code: string, detail: string) => {
  res.status(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem(status, code, detail)));
};

/**
 * `POST /webhooks/stripe`: no bearer auth; the `Stripe-Signature` header is verified over the raw
 * body with the official client (HMAC-SHA256 with the endpoint secret, timestamp within the
 * tolerance). A bad signature, an old timestamp or a changed byte is a 400 and nothing is recorded.
 * Handled types become billing commands, recorded with Stripe's event id as the idempotency key
 * (a repeat appends nothing); the decider ignores facts older than what it applied. Unknown types
 * and unknown customers are a 200 (Stripe stops retrying) and change nothing.
 */
export const createStripeWebhook = (deps: {
  shell: CommandShell;
  secret: string | undefined;
  toleranceSeconds: number;
  prices: TierPrices;
  /** The metered prices every subscription carries beside its tier's (STRIPE_METERED_PRICE_*). */
  meteredPrices?: readonly string[];
  graceSeconds: number;
  tenantOf: (customerId: string) => Promise<string | undefined>;
  log: Logger;
  clock?: () => Date;
}): Router => {
  const clock = deps.clock ?? (() => new Date());
  const router = express.Router();
  const handle = async (req: Request, res: Response) => {
    if (!deps.secret) return sendProblem(res, 404, 'billing_disabled', 'billing is not enabled on this platform (STRIPE_WEBHOOK_SECRET)');
    const signature = req.header('stripe-signature');
    if (!signature) {
      webhookOutcome(res, 'rejected');
      return sendProblem(res, 400, 'missing_signature', 'the Stripe-Signature header is missing');
    }
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw)) return sendProblem(res, 400, 'invalid_body', 'the body could not be read');
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(raw, signature, deps.secret, deps.toleranceSeconds);
    } catch (error) {
      deps.log.warn({ reason: error instanceof Error ? error.message.slice(0, 200) : 'unknown' }, 'Stripe webhook refused: signature did not verify');
      webhookOutcome(res, 'rejected');
      return sendProblem(res, 400, 'invalid_signature', 'the Stripe-Signature does not match the body, or its timestamp is outside the tolerance');
    }
    const mapped = mapEvent(event, deps.prices, deps.meteredPrices ?? [], deps.graceSeconds);
    if ('ignored' in mapped) {
      deps.log.info({ stripeEventId: event.id, type: event.type, why: mapped.ignored }, 'Stripe webhook ignored');
      webhookOutcome(res, 'ignored');
      return res.status(200).json({ received: true, ignored: mapped.ignored });
    }
    const tenantId = await deps.tenantOf(mapped.customer);
    if (!tenantId) {
      deps.log.warn({ stripeEventId: event.id, type: event.type, customer: mapped.customer }, 'Stripe webhook for a customer this platform does not know: nothing changed');
      webhookOutcome(res, 'ignored');
      return res.status(200).json({ received: true, ignored: 'unknown_customer' });
    }
    const result = await deps.shell.handle(billingDecider, {
      streamId: billingStream(asTenantId(tenantId)),
      command: mapped.command(clock().toISOString()),
      metadata: { tenantId, actor: 'stripe', correlationId: event.id, causationId: null },
      // Stripe sends the same event (id, type, created) on every retry
      idempotency: { key: `stripe:${event.id}`, fingerprint: `${event.type}@${event.created}` },
    });
    deps.log.info({ stripeEventId: event.id, type: event.type, tenantId, recorded: result.events.length, duplicate: result.duplicate }, 'Stripe webhook applied');
    if (result.duplicate) webhookOutcome(res, 'duplicate');
    res.status(200).json({ received: true, recorded: result.events.length });
  };
  router.post(STRIPE_WEBHOOK_PATH, countWebhooks('stripe'), express.raw({ type: () => true, limit: '1mb' }), (req, res, next) => {
    handle(req, res).catch((error: unknown) => {
      // rendered as every route renders it: an unreachable store says so without the driver's text (its addresses stay in the log)
      const rendered = isAppError(error) ? renderError(error) : undefined;
      if (rendered) return sendRendered(res, rendered);
      next(error);
    });
  });
  return router;
};
