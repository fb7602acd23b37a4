import { createHash, createHmac, randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { Delivery } from '../../adapters/channels/doubles/loopback.ts';
import { postRaw, readBody, sendJson, startLoopback } from '../../adapters/channels/doubles/loopback.ts';
import { list, obj, parseForm, str } from './stripe-form.ts';
import type { FormObject } from './stripe-form.ts';

/**
 * A Stripe API double on loopback (reference/stripe.md), for the official `stripe` client pointed at
 * it with `{ host, port, protocol: 'http' }`: customers, subscriptions (create, move the item's price,
 * cancel), customer updates (name, email, metadata merged), subscription items (add one), meter events (an `identifier` counts once in a rolling 24 h), Checkout and portal
 * sessions, `Idempotency-Key` (a replay within 24 h answers the first response; the same key with
 * other parameters is a 400 `idempotency_error`), Stripe's error shape, injected 429/5xx, injected refusals
 * (400/404 kept for idempotent replay as Stripe keeps them; 401/403 answered before the key is looked at), answers held
 * back (a caller killed before it heard Stripe's answer), and signed
 * webhook delivery (`Stripe-Signature: t=…,v1=…`) to the platform.
 */
export interface StripeObject {
  readonly id: string;
  [field: string]: unknown;
}
export interface MeterEvent {
  readonly event_name: string;
  readonly identifier: string;
  readonly customer: string;
  readonly value: number;
  readonly timestamp: number;
}
export interface StripeEvent {
  readonly id: string;
  readonly object: 'event';
  readonly type: string;
  readonly created: number;
  readonly data: { readonly object: StripeObject };
  readonly livemode: false;
  readonly api_version: string;
}
export interface StripeCall {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | null;
  /** A meter event's `payload[stripe_customer_id]`, else null. */
  readonly customer: string | null;
  status: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const seconds = () => Math.floor(Date.now() / 1000);

const stripeError = (status: number, type: string, message: string, extra: Record<string, string> = {}) => ({
  status,
  body: { error: { type, message, ...extra } },
});

/** `Stripe-Signature` for `payload` as Stripe computes it: HMAC-SHA256 of `<t>.<payload>` keyed by the endpoint secret. */
export const stripeSignature = (payload: string, secret: string, timestamp = seconds()): string =>
  `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex')}`;

export const startStripeDouble = async (options: { secretKey?: string; webhook?: { url: string; secret: string }; meteredPrices?: readonly string[] } = {}) => {
  /** Prices set up at Stripe as metered (`recurring.usage_type: "metered"`); every other price is licensed (flat). */
  const meteredPrices = new Set(options.meteredPrices ?? []);
  const priceObject = (id: string) => ({ id, object: 'price', recurring: { interval: 'month', usage_type: meteredPrices.has(id) ? 'metered' : 'licensed' } });
  const secretKey = options.secretKey ?? `sk_test_${randomBytes(12).toString('hex')}`;
  let webhook = options.webhook;
  const customers = new Map<string, StripeObject>();
  const subscriptions = new Map<string, StripeObject>();
  const checkoutSessions = new Map<string, StripeObject>();
  const portalSessions: StripeObject[] = [];
  const meterEvents: MeterEvent[] = [];
  /** Identifier → when first seen (ms), for the rolling 24 h uniqueness. */
  const identifiers = new Map<string, number>();
  let duplicateMeterEvents = 0;
  const idempotency = new Map<string, { fingerprint: string; status: number; body: unknown; at: number }>();
  const calls: StripeCall[] = [];
  const failures: { status: number; remaining: number; path: RegExp | undefined }[] = [];
  const holds: { method: string; path: RegExp; held: http.ServerResponse[] }[] = [];
  /** Refusals an operator's mistake at Stripe would cause (a missing meter, a restricted key), until cleared. */
  const refusals: { status: number; path: RegExp; customer: string | undefined; error: { type: string; message: string; code?: string; param?: string } }[] = [];
  /** The refusal for a request, if any: `customer` matches a meter event's `payload[stripe_customer_id]`, a customer's id in the path. */
  const refusalOf = (path: string, form: FormObject, auth: boolean) =>
    refusals.find(
      (r) =>
        (r.status === 401 || r.status === 403) === auth &&
        r.path.test(path) &&
        (!r.customer || str(obj(form.payload).stripe_customer_id) === r.customer || path.includes(r.customer)),
    );
  let base = '';

  /** A subscription with one item per price (a metered item has no quantity), in the order given. */
  const subscriptionOf = (customer: string, prices: readonly string[], metadata: FormObject): StripeObject => {
    const id = newId('sub');
    return {
      id,
      object: 'subscription',
      customer,
      status: 'active',
      created: seconds(),
      metadata,
      items: {
        object: 'list',
        data: prices.map((price) => ({ id: newId('si'), object: 'subscription_item', price: priceObject(price), ...(meteredPrices.has(price) ? {} : { quantity: 1 }), subscription: id })),
      },
    };
  };
  type Item = { id: string; price: { id: string; recurring: { usage_type: string } } };
  const itemsOf = (sub: StripeObject) => (sub.items as { data: Item[] }).data;
  /** The subscription's flat (licensed) price: its tier's. */
  const priceOf = (sub: StripeObject): string => itemsOf(sub).find((i) => i.price.recurring.usage_type !== 'metered')!.price.id;
  /** Every price the subscription's items carry. */
  const pricesOf = (sub: StripeObject): string[] => itemsOf(sub).map((i) => i.price.id);
  /** Stripe refuses a quantity on a metered price (it counts the meter), and a metered price twice. */
  const badItems = (items: readonly FormObject[], what: string) => {
    const prices = items.map((i) => str(i.price));
    if (items.some((i) => meteredPrices.has(str(i.price) ?? '') && str(i.quantity) !== undefined))
      return stripeError(400, 'invalid_request_error', `Quantity should not be specified where usage_type is \`metered\`. Remove quantity from ${what}.`, { param: what });
    if (new Set(prices).size !== prices.length) return stripeError(400, 'invalid_request_error', 'Cannot add multiple subscription items with the same plan.', { param: what });
    return undefined;
  };

  const route = (method: string, path: string, form: FormObject): { status: number; body: unknown } => {
    let m: RegExpExecArray | null;
    const refusal = refusalOf(path, form, false);
    if (refusal) return { status: refusal.status, body: { error: refusal.error } };
    if (method === 'POST' && path === '/v1/customers') {
      const customer: StripeObject = { id: newId('cus'), object: 'customer', created: seconds(), name: str(form.name) ?? null, email: str(form.email) ?? null, metadata: obj(form.metadata) };
      customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if ((m = /^\/v1\/customers\/([^/]+)$/.exec(path))) {
      const customer = customers.get(m[1]!);
      if (!customer) return stripeError(404, 'invalid_request_error', `No such customer: '${m[1]}'`, { code: 'resource_missing', param: 'id' });
      if (method === 'DELETE') {
        customers.delete(customer.id);
        return { status: 200, body: { id: customer.id, object: 'customer', deleted: true } };
      }
      if (method === 'POST') {
        // an update: the parameters given replace the customer's, metadata keys are merged
        for (const field of ['name', 'email'] as const) if (str(form[field]) !== undefined) customer[field] = str(form[field]) || null;
        if (form.metadata !== undefined) customer.metadata = { ...(customer.metadata as FormObject), ...obj(form.metadata) };
      }
      return { status: 200, body: customer };
    }
    if (method === 'POST' && path === '/v1/subscriptions') {
      const customer = str(form.customer);
      const items = list(form.items).map((i) => obj(i));
      const prices = items.map((i) => str(i.price));
      if (!customer || !customers.has(customer)) return stripeError(400, 'invalid_request_error', `No such customer: '${customer}'`, { code: 'resource_missing', param: 'customer' });
      if (prices.length === 0 || prices.some((p) => !p)) return stripeError(400, 'invalid_request_error', 'Missing required param: items[0][price].', { code: 'parameter_missing', param: 'items' });
      const bad = badItems(items, 'items');
      if (bad) return bad;
      const sub = subscriptionOf(customer, prices as string[], obj(form.metadata));
      subscriptions.set(sub.id, sub);
      return { status: 200, body: sub };
    }
    if ((m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      const sub = subscriptions.get(m[1]!);
      if (!sub) return stripeError(404, 'invalid_request_error', `No such subscription: '${m[1]}'`, { code: 'resource_missing', param: 'id' });
      if (method === 'DELETE') {
        sub.status = 'canceled';
        sub.canceled_at = seconds();
        return { status: 200, body: sub };
      }
      if (method === 'POST') {
        if (sub.status === 'canceled') return stripeError(400, 'invalid_request_error', 'A canceled subscription can only update its cancellation_details and metadata.');
        // each item named by its id takes the price given; items not named are left as they are
        for (const given of list(form.items).map((i) => obj(i))) {
          const price = str(given.price);
          if (!price) continue;
          const target = itemsOf(sub).find((i) => i.id === str(given.id));
          if (!target) return stripeError(400, 'invalid_request_error', `Invalid subscription item: '${str(given.id)}'`, { code: 'resource_missing', param: 'items' });
          target.price = priceObject(price);
        }
      }
      return { status: 200, body: sub };
    }
    if (method === 'POST' && path === '/v1/subscription_items') {
      // adds an item to a subscription (a metered price takes no quantity; a price it has already is refused)
      const sub = subscriptions.get(str(form.subscription) ?? '');
      const price = str(form.price);
      if (!sub) return stripeError(400, 'invalid_request_error', `No such subscription: '${str(form.subscription)}'`, { code: 'resource_missing', param: 'subscription' });
      if (!price) return stripeError(400, 'invalid_request_error', 'Missing required param: price.', { code: 'parameter_missing', param: 'price' });
      if (sub.status === 'canceled') return stripeError(400, 'invalid_request_error', 'A canceled subscription can only update its cancellation_details and metadata.');
      const bad = badItems([...itemsOf(sub).map((i) => ({ price: i.price.id })), { ...form, price }], 'price');
      if (bad) return bad;
      const item = { id: newId('si'), object: 'subscription_item', price: priceObject(price), ...(str(form.quantity) !== undefined ? { quantity: Number(str(form.quantity)) } : {}), subscription: sub.id };
      itemsOf(sub).push(item);
      return { status: 200, body: item };
    }
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      const payload = obj(form.payload);
      const customer = str(payload.stripe_customer_id);
      const value = Number(str(payload.value));
      const eventName = str(form.event_name);
      const identifier = str(form.identifier) ?? newId('idmp');
      const timestamp = Number(str(form.timestamp) ?? seconds());
      if (!eventName) return stripeError(400, 'invalid_request_error', 'Missing required param: event_name.', { code: 'parameter_missing', param: 'event_name' });
      if (!customer || !customers.has(customer)) return stripeError(400, 'invalid_request_error', 'No customer found for payload[stripe_customer_id].', { param: 'payload' });
      if (!Number.isFinite(value)) return stripeError(400, 'invalid_request_error', 'payload[value] must be a number.', { param: 'payload' });
      if (timestamp < seconds() - 35 * 24 * 3600 || timestamp > seconds() + 300)
        return stripeError(400, 'invalid_request_error', 'timestamp must be within the past 35 days or up to 5 minutes in the future.', { param: 'timestamp' });
      const seen = identifiers.get(identifier);
      // Stripe accepts the request and drops a repeated identifier from the meter.
      if (seen !== undefined && Date.now() - seen < DAY_MS) duplicateMeterEvents += 1;
      else {
        identifiers.set(identifier, Date.now());
        meterEvents.push({ event_name: eventName, identifier, customer, value, timestamp });
      }
      return { status: 200, body: { object: 'billing.meter_event', event_name: eventName, identifier, payload, timestamp, created: seconds(), livemode: false } };
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const customer = str(form.customer);
      const lineItems = list(form.line_items).map((i) => obj(i));
      const price = str(lineItems[0]?.price);
      if (str(form.mode) !== 'subscription' || !price || !str(form.success_url)) return stripeError(400, 'invalid_request_error', 'mode, line_items and success_url are required.');
      const bad = badItems(lineItems, 'line_items');
      if (bad) return bad;
      const id = newId('cs_test');
      const session: StripeObject = {
        id,
        object: 'checkout.session',
        mode: 'subscription',
        customer: customer ?? null,
        client_reference_id: str(form.client_reference_id) ?? null,
        metadata: obj(form.metadata),
        status: 'open',
        success_url: str(form.success_url),
        cancel_url: str(form.cancel_url) ?? null,
        url: `${base}/checkout/${id}`,
        subscription: null,
        line_items_price: price,
        line_items_prices: lineItems.map((i) => str(i.price)),
        created: seconds(),
      };
      checkoutSessions.set(id, session);
      return { status: 200, body: session };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      const customer = str(form.customer);
      if (!customer || !customers.has(customer)) return stripeError(400, 'invalid_request_error', `No such customer: '${customer}'`, { param: 'customer' });
      const session: StripeObject = { id: newId('bps'), object: 'billing_portal.session', customer, return_url: str(form.return_url) ?? null, url: `${base}/portal/${newId('p')}`, created: seconds() };
      portalSessions.push(session);
      return { status: 200, body: session };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const raw = (await readBody(req)).toString('utf8');
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    const call: StripeCall = { method, path, idempotencyKey: key, customer: str(obj(parseForm(raw).payload).stripe_customer_id) ?? null, status: 0 };
    calls.push(call);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.setHeader('request-id', newId('req'));
      sendJson(res, status, body);
    };
    if (req.headers.authorization !== `Bearer ${secretKey}`)
      return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
    const denial = refusalOf(path, parseForm(raw), true);
    if (denial) return answer(denial.status, { error: denial.error });
    const failure = failures.find((f) => f.remaining > 0 && (!f.path || f.path.test(path)));
    if (failure) {
      failure.remaining -= 1;
      const type = failure.status === 429 ? 'rate_limit_error' : 'api_error';
      return answer(failure.status, { error: { type, message: failure.status === 429 ? 'Too many requests hit the API too quickly.' : 'Something went wrong on our end.' } });
    }
    const fingerprint = createHash('sha256').update(`${method} ${path} ${raw}`).digest('hex');
    if (key && method === 'POST') {
      const first = idempotency.get(key);
      if (first && Date.now() - first.at < DAY_MS) {
        if (first.fingerprint !== fingerprint)
          return answer(400, {
            error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` },
          });
        return answer(first.status, first.body, { 'idempotent-replayed': 'true' });
      }
    }
    const result = route(method, path, parseForm(raw));
    if (key && method === 'POST' && result.status < 500) idempotency.set(key, { fingerprint, status: result.status, body: result.body, at: Date.now() });
    const hold = holds.find((h) => h.method === method && h.path.test(path));
    if (hold) {
      call.status = result.status;
      hold.held.push(res);
      return;
    }
    answer(result.status, result.body);
  };

  const loopback = await startLoopback(handle);
  base = loopback.url;

  const event = (type: string, object: StripeObject, created = seconds()): StripeEvent => ({
    id: newId('evt'),
    object: 'event',
    type,
    created,
    data: { object: structuredClone(object) },
    livemode: false,
    api_version: '2026-10-28.endive',
  });

  /** Signs and POSTs an event to the platform's webhook; `tamper` changes the body after signing. */
  const deliver = async (
    stripeEvent: StripeEvent,
    how: { secret?: string; timestamp?: number; tamper?: (body: string) => string; url?: string } = {},
  ): Promise<Delivery> => {
    const target = how.url ?? webhook?.url;
    const secret = how.secret ?? webhook?.secret;
    if (!target || !secret) throw new Error('no webhook endpoint configured on the Stripe double');
    const payload = JSON.stringify(stripeEvent, null, 2);
    const signature = stripeSignature(payload, secret, how.timestamp);
    return postRaw(target, how.tamper ? how.tamper(payload) : payload, { 'stripe-signature': signature, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' });
  };

  return {
    url: loopback.url,
    host: '127.0.0.1',
    port: loopback.port,
    secretKey,
    customers,
    subscriptions,
    checkoutSessions,
    portalSessions,
    meterEvents,
    calls,
    get duplicateMeterEvents() {
      return duplicateMeterEvents;
    },
    /** What the meter holds for a customer: the sum of accepted values (repeats excluded). */
    usage: (customer: string, eventName: string) => meterEvents.filter((e) => e.customer === customer && e.event_name === eventName).reduce((sum, e) => sum + e.value, 0),
    customersOf: (tenantId: string) => [...customers.values()].filter((c) => (c.metadata as Record<string, unknown>).tenantId === tenantId),
    /** The next `count` requests (to paths matching `path`) answer `status` (429 or 5xx) and do nothing. */
    failNext(count: number, status: 429 | 500 | 502 | 503, path?: RegExp) {
      failures.push({ status, remaining: count, path });
    },
    clearFailures: () => failures.splice(0),
    /**
     * Requests to paths matching `path` (of `customer` only, if given) are refused with `status` and Stripe's
     * `error` until `clear()`: a 400/404 is kept for idempotent replay (as Stripe keeps a refusal for 24 h), a
     * 401/403 is answered before the idempotency key is looked at.
     */
    refuse(path: RegExp, status: 400 | 401 | 403 | 404, error: { type: string; message: string; code?: string; param?: string }, customer?: string) {
      const refusal = { status, path, customer, error };
      refusals.push(refusal);
      return { clear: () => void refusals.splice(refusals.indexOf(refusal), 1) };
    },
    /** Forgets every idempotency key, as Stripe does 24 h after a key's first use. */
    expireIdempotencyKeys: () => idempotency.clear(),
    /**
     * Requests of `method` to paths matching `path` are carried out (and kept for idempotent replay) but
     * not answered: the caller waits, as one killed between Stripe's work and its answer would. `held` counts
     * them; `release` stops holding and drops their connections unanswered (an answer lost).
     */
    holdAnswers(method: string, path: RegExp) {
      const hold = { method, path, held: [] as http.ServerResponse[] };
      holds.push(hold);
      return {
        get held() {
          return hold.held.length;
        },
        release() {
          holds.splice(holds.indexOf(hold), 1);
          for (const res of hold.held) res.destroy();
        },
      };
    },
    setWebhook(url: string, secret: string) {
      webhook = { url, secret };
    },
    event,
    deliver,
    priceOf,
    pricesOf,
    /** Stripe's side of a finished Checkout: a new subscription at the session's price, and the session completed. */
    completeCheckout(sessionId: string): { session: StripeObject; subscription: StripeObject } {
      const session = checkoutSessions.get(sessionId);
      if (!session || typeof session.customer !== 'string') throw new Error(`no checkout session ${sessionId} with a customer`);
      const subscription = subscriptionOf(session.customer, session.line_items_prices as string[], obj(session.metadata as FormObject));
      subscriptions.set(subscription.id, subscription);
      session.status = 'complete';
      session.subscription = subscription.id;
      return { session, subscription };
    },
    close: () => loopback.close(),
  };
};

export type StripeDouble = Awaited<ReturnType<typeof startStripeDouble>>;
