import type { Decoded } from '../../domain/events.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { parseStreamId } from '../../domain/shared/streams.ts';
import { consumeDecoded } from '../bus/decoded.ts';
import type { NewJob } from './tables.ts';
import type { BillingTables } from './tables.ts';

export const BILLING_CONSUMER = 'billing';

const MINUTE_MS = 60_000;

/** Billed knight-minutes: from the knight's first provisioning to its first end, rounded up, as the usage read model counts them. */
export const knightMinutes = (startedAt: string, endedAt: string): number => Math.max(0, Math.ceil((Date.parse(endedAt) - Date.parse(startedAt)) / MINUTE_MS));

const unix = (iso: string) => Math.floor(Date.parse(iso) / 1_000);

/**
 * The billing role's Bus consumer. It only writes rows (jobs, the customer map, grace periods),
 * so its progress never waits on Stripe; the worker does the calls. Every job's id comes from the
 * event id, so a redelivered event adds nothing.
 */
export const startBillingConsumer = (deps: { bus: Bus; codec: EventCodec; store: EventStore; tables: BillingTables }): Promise<BusSubscription> => {
  const { tables, store, codec } = deps;

  /** The knight-minutes a terminal knight event bills: only the first end after provisioning counts. */
  const knightUsage = async (event: Decoded): Promise<NewJob | undefined> => {
    const history = await codec.decodeStream('knight', await store.readStream(event.streamId), 'stored');
    const provisioned = history.find((e) => e.type === 'KnightProvisioned');
    if (!provisioned) return undefined;
    const ended = history.find((e) => e.revision > provisioned.revision && (e.type === 'KnightTerminated' || e.type === 'KnightFailed'));
    if (ended?.id !== event.id) return undefined;
    const value = knightMinutes(provisioned.data.at, ended.data.at);
    if (value === 0) return undefined;
    const { tenantId } = parseStreamId(event.streamId);
    return {
      id: `usage:${event.id}`,
      tenantId,
      lane: 'usage',
      payload: { kind: 'usage', meter: 'knight_minutes', value, identifier: event.id, timestamp: unix(ended.data.at), day: ended.data.at.slice(0, 10) },
    };
  };

  /** The tenant's tier as of one of its events (its stream read up to that event). */
  const tierAt = async (event: Decoded): Promise<string | undefined> => {
    let tier: string | undefined;
    for (const e of await codec.decodeStream('tenant', await store.readStream(event.streamId), 'stored')) {
      if (e.revision > event.revision) break;
      if (e.type === 'TenantCreated') tier = e.data.tier;
      else if (e.type === 'TenantTierChanged') tier = e.data.to;
    }
    return tier;
  };

  const handle = async (events: readonly Decoded[]) => {
    const jobs: NewJob[] = [];
    const account = (event: Decoded, payload: NewJob['payload']) =>
      jobs.push({ id: `${payload.kind}:${event.id}`, tenantId: parseStreamId(event.streamId).tenantId, lane: 'account', payload });
    for (const event of events) {
      const { tenantId } = parseStreamId(event.streamId);
      switch (event.type) {
        case 'TenantCreated':
          account(event, { kind: 'created', tier: event.data.tier, eventId: event.id });
          break;
        case 'TenantTierChanged':
          account(event, { kind: 'tier', tier: event.data.to, eventId: event.id });
          break;
        case 'TenantErased':
          account(event, { kind: 'erased', eventId: event.id });
          break;
        case 'TenantReinstated': {
          const tier = await tierAt(event);
          if (tier) account(event, { kind: 'reinstated', tier, eventId: event.id });
          break;
        }
        case 'MessagePosted':
          if (event.data.role === 'user')
            jobs.push({
              id: `usage:${event.id}`,
              tenantId,
              lane: 'usage',
              payload: { kind: 'usage', meter: 'messages', value: 1, identifier: event.id, timestamp: unix(event.data.at), day: event.data.at.slice(0, 10) },
            });
          break;
        case 'KnightTerminated':
        case 'KnightFailed': {
          const job = await knightUsage(event);
          if (job) jobs.push(job);
          break;
        }
        case 'StripeCustomerCreated':
          await tables.add(jobs.splice(0));
          await tables.customers.link(tenantId, event.data.customerId);
          break;
        case 'BillingAccountClosed':
          await tables.customers.close(tenantId);
          break;
        case 'InvoicePaymentFailed':
          await tables.customers.graceEnds(tenantId, event.data.graceEndsAt);
          break;
        case 'InvoicePaid':
        case 'InvoiceVoided':
        case 'PaymentFailureCleared':
          // a payment, a void or a subscription's end that leaves another failed invoice unpaid keeps the grace period running
          if (event.data.standing === 'failing') break;
          await tables.customers.graceEnds(tenantId, null);
          account(event, { kind: 'reinstate', eventId: event.id });
          break;
        case 'GracePeriodEnded':
          await tables.customers.graceEnds(tenantId, null);
          account(event, { kind: 'suspend', eventId: event.id });
          break;
        case 'StripeSubscriptionSynced':
          if (event.data.tier) account(event, { kind: 'tier_from_stripe', tier: event.data.tier, eventId: event.id });
          break;
        case 'CheckoutCompleted':
          account(event, { kind: 'checkout', tier: event.data.tier, replaces: event.data.replaces, eventId: event.id });
          break;
        case 'CheckoutSuperseded':
          account(event, { kind: 'cancel_superseded', subscriptionId: event.data.subscriptionId, eventId: event.id });
          break;
        default:
          break;
      }
    }
    await tables.add(jobs);
  };

  return consumeDecoded(
    deps.bus,
    codec,
    BILLING_CONSUMER,
    {
      eventTypes: [
        'TenantCreated',
        'TenantTierChanged',
        'TenantErased',
        'TenantReinstated',
        'MessagePosted',
        'KnightTerminated',
        'KnightFailed',
        'StripeCustomerCreated',
        'BillingAccountClosed',
        'InvoicePaymentFailed',
        'InvoicePaid',
        'InvoiceVoided',
        'PaymentFailureCleared',
        'GracePeriodEnded',
        'StripeSubscriptionSynced',
        'CheckoutCompleted',
        'CheckoutSuperseded',
      ],
      decode: 'stored',
    },
    handle,
  );
};
