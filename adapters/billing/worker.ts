import { billedTier, billingDecider, PAYMENT_SUSPENSION_REASON, planAccount } from '../../domain/billing/index.ts';
import type { AccountAction, AccountTrigger, BillingCommand, BillingState, TierPrices } from '../../domain/billing/index.ts';
import { hasCode } from '../../domain/shared/errors.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { billingStream, tenantStream } from '../../domain/shared/streams.ts';
import { tenantDecider } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantState } from '../../domain/tenant/index.ts';
import { isTier } from '../../domain/tiers.ts';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { Logger } from 'pino';
import Stripe from 'stripe';
import type { Meter } from './config.ts';
import type { StripeCalls } from './stripe-client.ts';
import { isMeterEventRefused, isTransient } from './stripe-client.ts';
import type { BillingTables, Job, JobPayload } from './tables.ts';
import { runLimited } from '../limits/run-limited.ts';
import { countUsageReport, setUsageUndecided } from '../telemetry/metrics.ts';

export interface BillingWorkerDeps {
  readonly shell: CommandShell;
  /** Reads the tenant's first event, for its customer's idempotency key. */
  readonly store: Pick<EventStore, 'readStream'>;
  readonly stripe: StripeCalls;
  readonly tables: BillingTables;
  readonly prices: TierPrices;
  readonly meterName: (meter: Meter) => string;
  readonly log: Logger;
  readonly clock?: () => Date;
  /**
   * How many times the Stripe library retries an attempt by itself (STRIPE_MAX_NETWORK_RETRIES, default 2): with
   * any, a refusal may answer the library's retry of an attempt that timed out and was carried out.
   */
  readonly libraryRetries?: number;
  /** Usage reports sent at once. */
  readonly concurrency?: number;
}

const ACTOR = 'system:billing';
const MAX_BACKOFF_MS = 5 * 60_000;
/** How long after a send with an unknown outcome a usage report may still be sent again: inside Stripe's 24 h dedupe, with a margin. */
const RESEND_WINDOW_MS = 23 * 3_600_000;
/** How far ahead of billing's clock an event's timestamp is sent as it is (Stripe takes up to 5 minutes ahead of its own). */
const MAX_AHEAD_SECONDS = 4 * 60;
/**
 * Did Stripe answer that the send did nothing, so that the report's first-send mark may be cleared? Only a definite
 * refusal (a 4xx: not an idempotency_error, which may follow an earlier send that was counted; not a 409; not a 429)
 * and only when the Stripe library makes no retries of its own (`libraryRetries` 0): else the 4xx may answer the
 * library's retry of an attempt that timed out after Stripe counted it. A rate limit never clears it (Stripe may
 * answer 429 to a retry, whatever became of the first attempt). A timeout, a lost connection or a 5xx may have been
 * carried out. Keeping the mark is the safe side: at worst a report is parked undecided instead of counted twice.
 */
const didNothing = (error: unknown, libraryRetries: number) =>
  libraryRetries === 0 &&
  error instanceof Stripe.errors.StripeError &&
  !(error instanceof Stripe.errors.StripeIdempotencyError) &&
  !(error instanceof Stripe.errors.StripeConnectionError) &&
  !(error instanceof Stripe.errors.StripeRateLimitError) &&
  typeof error.statusCode === 'number' &&
  error.statusCode >= 400 &&
  error.statusCode < 500 &&
  error.statusCode !== 409 &&
  error.statusCode !== 429;
const backoff = (attempts: number) => Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(attempts, 12));
/** An error for the log and the job's row: an email address in it (Stripe's refusals quote the customer's) is masked, as personal data. */
export const failureText = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(/[^\s@<>"'(),;:]+@[^\s@<>"'(),;:]+/g, '<email>');

/**
 * Carries out billing's jobs. An account job asks `planAccount` for the next Stripe call, makes it
 * with an idempotency key derived from the job's event (the customer's from the tenant: one customer per
 * tenant whatever job makes it, found again by the erasure), records the outcome on the tenant's billing
 * stream and asks again until done; a crash anywhere repeats at most the call in hand, which Stripe
 * answers from its idempotency store. Usage jobs report meter events with the event id as
 * `identifier`. A failure is retried with backoff (1 s doubling to 5 min), forever: Stripe down means
 * billing catches up later, and nothing else waits for it. A usage report Stripe definitely refuses
 * (a 400/404 invalid_request_error) is the exception: kept, marked refused, and tried again only when billing restarts.
 */
export const createBillingWorker = (deps: BillingWorkerDeps) => {
  const { shell, stripe, tables, log } = deps;
  const clock = deps.clock ?? (() => new Date());
  const concurrency = deps.concurrency ?? 16;
  const libraryRetries = deps.libraryRetries ?? 2;

  const meta = (tenantId: string, causationId: string) => ({ tenantId, actor: ACTOR, correlationId: causationId, causationId });
  const billing = (tenantId: string, command: BillingCommand, causationId: string) =>
    shell.handle(billingDecider, { streamId: billingStream(asTenantId(tenantId)), command, metadata: meta(tenantId, causationId) });
  const tenant = (tenantId: string, command: TenantCommand, causationId: string) =>
    shell.handle(tenantDecider, { streamId: tenantStream(asTenantId(tenantId)), command, metadata: meta(tenantId, causationId) });
  const billingState = async (tenantId: string): Promise<BillingState> => (await shell.state(billingDecider, billingStream(asTenantId(tenantId)))).state;
  const tenantState = async (tenantId: string): Promise<TenantState> => (await shell.state(tenantDecider, tenantStream(asTenantId(tenantId)))).state;
  const at = () => clock().toISOString();
  /**
   * The idempotency key of the tenant's customer: its id and its stream's first event (TenantCreated), which
   * never changes and is never another tenant's (a slug is never reused, but another deployment on the same
   * Stripe account may have one alike).
   */
  const customerKey = async (tenantId: string): Promise<string> => {
    const [first] = await deps.store.readStream(tenantStream(asTenantId(tenantId)), { maxCount: 1 });
    if (!first) throw new Error(`tenant ${tenantId} has no stream`);
    return `customer:${tenantId}:${first.id}`;
  };

  /**
   * Names the customer. Stripe refusing the name or email (a 4xx: an address it does not take, say) does not
   * hold the account back: logged (the tenant, the customer, Stripe's status, code and param; never its
   * message or the values, personal data) and the customer kept unnamed, so the subscription, tier changes
   * and the erasure go on. Not tried again by billing (no later event carries a new name or email); the
   * operator names the customer at Stripe. Any other failure (transient, or a 401/403) throws: the job is retried.
   */
  const nameCustomer = async (tenantId: string, customerId: string, customer: { name: string | null; email: string | null }) => {
    try {
      await stripe.nameCustomer(customerId, customer);
    } catch (error) {
      // only Stripe refusing the values (400/404 invalid_request_error) is let go: anything else, a 401/403 (a key,
      // or a restricted key without customer-write permission, fixed in the dashboard) included, retries the job
      if (!(error instanceof Stripe.errors.StripeInvalidRequestError && (error.statusCode === 400 || error.statusCode === 404))) throw error;
      log.error(
        { tenantId, customerId, status: error.statusCode, stripeCode: error.code, param: error.param },
        "Stripe refused the customer's name or email: the customer stays unnamed and billing goes on; name it at Stripe",
      );
    }
  };

  /** One Stripe call for the action, then its outcome recorded; `nothing_to_recover`: the account is settled as it is. */
  const perform = async (tenantId: string, eventId: string, action: AccountAction, profile: TenantState, state: BillingState): Promise<'nothing_to_recover' | undefined> => {
    const key = `${eventId}:${action.kind}`;
    switch (action.kind) {
      case 'create_customer':
      case 'recover_customer': {
        // one key per tenant (not per job), parameters without personal data: any later create, the erasure's
        // included, gets this customer back instead of making another; one linked already (billing stopped
        // before recording it) is taken as it is, even after Stripe's 24 h
        let customerId = await tables.customers.customerOf(tenantId);
        if (!customerId) {
          // the erasure of a tenant billing never set out to make a customer for: nothing at Stripe to recover
          // (replaying the create would make a customer, carrying the tenant's slug, only to delete it)
          if (action.kind === 'recover_customer' && !(await tables.customers.createAttempted(tenantId))) return 'nothing_to_recover';
          await tables.customers.markCreateAttempted(tenantId);
          customerId = await stripe.createCustomer(await customerKey(tenantId), { tenantId });
        }
        // linked before it is recorded: a webhook about the customer finds its tenant as soon as anyone can know of it
        await tables.customers.link(tenantId, customerId);
        const named = profile.status === 'active' || profile.status === 'suspended' ? profile : undefined;
        if (named) await nameCustomer(tenantId, customerId, { name: named.name, email: named.email });
        await billing(tenantId, { type: 'RecordCustomer', customerId, at: at() }, eventId);
        return;
      }
      case 'create_subscription': {
        // planAccount asks for a subscription only for an open account, whose customer it was given
        if (state.status !== 'open') return;
        const subscriptionId = await stripe.createSubscription(key, { customerId: state.customerId, priceId: action.priceId, tenantId, tier: action.tier });
        await billing(tenantId, { type: 'RecordSubscription', subscriptionId, priceId: action.priceId, tier: action.tier, at: at() }, eventId);
        return;
      }
      case 'move_subscription':
        await stripe.moveSubscription(key, { subscriptionId: action.subscriptionId, priceId: action.priceId, tier: action.tier });
        await billing(tenantId, { type: 'RecordSubscription', subscriptionId: action.subscriptionId, priceId: action.priceId, tier: action.tier, at: at() }, eventId);
        return;
      case 'cancel_subscription':
        await stripe.cancelSubscription(key, action.subscriptionId);
        await billing(tenantId, { type: 'RecordSubscriptionEnded', subscriptionId: action.subscriptionId, at: at() }, eventId);
        return;
      case 'delete_customer':
        await stripe.deleteCustomer(key, action.customerId);
        await billing(tenantId, { type: 'CloseBillingAccount', at: at() }, eventId);
        return;
      case 'done':
        return;
    }
  };

  const settleAccount = async (tenantId: string, trigger: AccountTrigger, eventId: string) => {
    const profile = await tenantState(tenantId);
    if (profile.status === 'erased' && trigger.kind !== 'erased') return;
    for (let step = 0; step < 6; step++) {
      const state = await billingState(tenantId);
      const action = planAccount(trigger, state, deps.prices);
      if (action.kind === 'done') return;
      if ((await perform(tenantId, eventId, action, profile, state)) === 'nothing_to_recover') {
        // no customer ever: the tenant's usage reports (which wait for one) would stay forever
        await tables.dropUsage(tenantId);
        return;
      }
    }
    throw new Error(`billing of ${tenantId} did not settle in 6 steps`);
  };

  /** A tenant command billing asks for; a tenant that is erased (or suspended, for a tier change) is left as it is. */
  const tenantCommand = async (tenantId: string, command: TenantCommand, eventId: string) => {
    try {
      await tenant(tenantId, command, eventId);
    } catch (error) {
      if (hasCode(error, 'tenant_erased') || hasCode(error, 'tenant_not_found') || hasCode(error, 'tenant_suspended')) {
        log.info({ tenantId, command: command.type, code: (error as { code: string }).code }, 'billing left the tenant as it is');
        return;
      }
      throw error;
    }
  };

  const runAccount = async (job: Job, payload: Exclude<JobPayload, { kind: 'usage' }>) => {
    const { tenantId } = job;
    switch (payload.kind) {
      case 'created':
      case 'tier':
        if (!isTier(payload.tier)) return;
        return settleAccount(tenantId, { kind: payload.kind, tier: payload.tier }, payload.eventId);
      case 'erased':
        return settleAccount(tenantId, { kind: 'erased' }, payload.eventId);
      case 'tier_from_stripe':
        if (isTier(payload.tier)) await tenantCommand(tenantId, { type: 'ChangeTenantTier', tier: payload.tier, at: at() }, payload.eventId);
        return;
      case 'checkout':
        if (payload.replaces) await stripe.cancelSubscription(`${payload.eventId}:cancel_replaced`, payload.replaces);
        if (isTier(payload.tier)) await tenantCommand(tenantId, { type: 'ChangeTenantTier', tier: payload.tier, at: at() }, payload.eventId);
        return;
      case 'cancel_superseded':
        // the subscription of a Checkout a later one superseded: the tier stays the later one's
        await stripe.cancelSubscription(`${payload.eventId}:cancel_superseded`, payload.subscriptionId);
        return;
      case 'suspend': {
        // a tenant suspended already (by an operator) keeps that reason: a payment must not lift it
        if ((await tenantState(tenantId)).status !== 'active') return;
        const state = await billingState(tenantId);
        if (state.status === 'open' && state.payment.standing === 'failing' && state.payment.graceEnded)
          await tenantCommand(tenantId, { type: 'SuspendTenant', reason: PAYMENT_SUSPENSION_REASON, at: at() }, payload.eventId);
        return;
      }
      case 'reinstate': {
        const [state, profile] = [await billingState(tenantId), await tenantState(tenantId)];
        if (state.status !== 'open' || state.payment.standing !== 'good') return;
        if (profile.status !== 'suspended' || profile.suspendedReason !== PAYMENT_SUSPENSION_REASON) return;
        // the tier Stripe reported meanwhile follows from TenantReinstated ('reinstated' below)
        await tenantCommand(tenantId, { type: 'ReinstateTenant', at: at() }, payload.eventId);
        return;
      }
      case 'reinstated': {
        // A tier change Stripe reported while the tenant was suspended (by an operator or by billing) was
        // refused then (a Checkout paid for, a portal upgrade, the subscription deleted at the end of
        // dunning): the tier the customer pays for applies now. A tenant suspended again, or moved to another
        // tier since the reinstatement (that change stands, and its own job moves the subscription), is left alone.
        const profile = await tenantState(tenantId);
        if (profile.status !== 'active' || profile.tier !== payload.tier) return;
        const tier = billedTier(await billingState(tenantId), profile.tier, deps.prices);
        if (tier && tier !== profile.tier) await tenantCommand(tenantId, { type: 'ChangeTenantTier', tier, at: at() }, `${payload.eventId}:tier`);
        return;
      }
    }
  };

  /**
   * Subscriptions whose metered items this process has checked (once each): one made before
   * STRIPE_METERED_PRICE_* were set gets the items it lacks at its tenant's next usage report, so
   * setting the variables later charges existing customers too. A failure is logged; a transient one is
   * checked again at the next report, a refusal only after a restart. The report goes on either way (the
   * meter keeps the usage).
   */
  const meteredChecked = new Map<string, Promise<void>>();
  const ensureMeteredItems = (tenantId: string, subscriptionId: string): Promise<void> => {
    let check = meteredChecked.get(subscriptionId);
    if (!check) {
      check = stripe.addMissingMeteredItems(subscriptionId).then(
        ({ added, otherMetered }) => {
          if (added.length > 0) log.info({ tenantId, subscriptionId, added }, 'billing added the metered items the subscription lacked: its usage is charged from now on');
          if (otherMetered.length > 0)
            log.warn(
              { tenantId, subscriptionId, otherMetered },
              'the subscription has metered items of prices other than STRIPE_METERED_PRICE_* (a rotated price?): none added, so no meter is charged twice; move its items at Stripe',
            );
        },
        (error: unknown) => {
          // a refusal (a price of another interval or currency, archived) is not tried at every report: once a process life
          const transient = isTransient(error);
          if (transient) meteredChecked.delete(subscriptionId);
          log.warn(
            { tenantId, subscriptionId, err: failureText(error) },
            transient
              ? 'could not add the missing metered items to the subscription; trying again at the next usage report'
              : 'Stripe refused to add the missing metered items to the subscription; not tried again until billing restarts',
          );
        },
      );
      meteredChecked.set(subscriptionId, check);
    }
    return check;
  };

  const runUsage = async (job: Job, payload: Extract<JobPayload, { kind: 'usage' }>) => {
    const state = await billingState(job.tenantId);
    if (state.status !== 'open') {
      // an erased tenant's usage is not billed
      if (state.status === 'closed') await tables.done(job.id);
      else await tables.retry(job.id, 1_000, 'no Stripe customer yet');
      return;
    }
    if (state.subscription) await ensureMeteredItems(job.tenantId, state.subscription.id);
    const now = clock();
    // Sent once with an unknown outcome (a timeout, a 5xx, a lost answer, a crash) longer ago than Stripe's 24 h
    // dedupe (by identifier and by idempotency key): sent again, under any key, it may be counted twice. Parked for an operator.
    if (job.firstSentAt && now.getTime() - job.firstSentAt.getTime() > RESEND_WINDOW_MS) {
      countUsageReport(payload.meter, 'undecided');
      log.error(
        { job: job.id, tenantId: job.tenantId, meter: payload.meter, identifier: payload.identifier, day: payload.day, firstSentAt: job.firstSentAt.toISOString() },
        "a meter event sent more than 23 h ago without Stripe's answer is not sent again (it could be counted twice): check Stripe's meter for its identifier, then delete or re-queue its billing_jobs row",
      );
      await tables.parkUndecided(job.id, `sent ${job.firstSentAt.toISOString()} without an answer; not resent past Stripe's 24 h dedupe: an operator decides`);
      return;
    }
    // Stripe takes a timestamp up to 5 minutes ahead of its clock: the event's own time is sent unless it is further
    // ahead of ours than MAX_AHEAD_SECONDS (its writer's clock ahead); then billing's now, stored before the send, so
    // every retry under the same key is the same request (a new value each time was an idempotency_error)
    const nowSeconds = Math.floor(now.getTime() / 1000);
    let timestamp = payload.timestamp;
    if (timestamp > nowSeconds + MAX_AHEAD_SECONDS) {
      timestamp = nowSeconds;
      await tables.setTimestamp(job.id, timestamp);
    }
    // A new idempotency key after a refusal (or an idempotency_error): under the old one Stripe replays its stored
    // answer for 24 h, the refusal (or, the request changed by the fix, an idempotency_error). The identifier stays
    // the event's, so Stripe still counts the event once (a refused event was never counted).
    const key = job.rekeys === 0 ? `meter:${payload.identifier}` : `meter:${payload.identifier}:r${job.rekeys}`;
    // marked before the send (a crash during it is an unknown outcome too); cleared if Stripe answers it did nothing
    const marked = !job.firstSentAt;
    if (marked) await tables.markSent(job.id, now);
    try {
      await stripe.reportUsage(key, { eventName: deps.meterName(payload.meter), customerId: state.customerId, value: payload.value, identifier: payload.identifier, timestamp });
    } catch (error) {
      if (marked && didNothing(error, libraryRetries)) await tables.unmarkSent(job.id).catch(() => undefined);
      throw error;
    }
    await tables.reported(job, payload.meter, payload.identifier, payload.day, payload.value);
    countUsageReport(payload.meter, 'accepted');
  };

  /**
   * A meter event Stripe refused (a 4xx: a timestamp beyond 35 days, a customer gone, a wrong meter) is
   * not dropped: counted, logged as an error with Stripe's code (never its message, which may quote the
   * customer), and kept as a refused job that reconciliation shows as refused. It is not tried again
   * (the same request would be refused again) until billing restarts (`retryRefusedUsage`), then under a new
   * idempotency key. Only a definite refusal (`isMeterEventRefused`) parks a report: a 401/403, an
   * idempotency_error or a timestamp refused for a clock apart from Stripe's goes back to the backoff.
   */
  const usageFailed = (job: Job, payload: Extract<JobPayload, { kind: 'usage' }>, error: unknown, refused: boolean) => {
    countUsageReport(payload.meter, refused ? 'refused' : 'error');
    if (!refused) return;
    const stripeError = error instanceof Stripe.errors.StripeError ? error : undefined;
    log.error(
      { job: job.id, tenantId: job.tenantId, meter: payload.meter, identifier: payload.identifier, day: payload.day, status: stripeError?.statusCode, stripeCode: stripeError?.code, param: stripeError?.param },
      'Stripe refused a meter event: kept pending (refused) for reconciliation, not tried again until billing restarts; it needs an operator',
    );
  };

  const run = async (job: Job) => {
    try {
      if (job.payload.kind === 'usage') await runUsage(job, job.payload);
      else {
        await runAccount(job, job.payload);
        await tables.done(job.id);
      }
    } catch (error) {
      const delay = backoff(job.attempts);
      const transient = isTransient(error);
      if (job.payload.kind === 'usage') {
        const refused = isMeterEventRefused(error, job.payload.timestamp, Math.floor(clock().getTime() / 1000));
        usageFailed(job, job.payload, error, refused);
        if (refused) {
          await tables.park(job.id, failureText(error)).catch(() => undefined);
          return;
        }
      }
      // a usage report's idempotency_error: the next attempt under a new key (the old one is bound to other parameters for 24 h)
      const rekey = job.payload.kind === 'usage' && error instanceof Stripe.errors.StripeIdempotencyError;
      log[transient && job.attempts < 3 ? 'warn' : 'error']({ job: job.id, tenantId: job.tenantId, attempts: job.attempts + 1, retryInMs: delay, err: failureText(error) }, 'billing job failed; trying again later');
      await tables.retry(job.id, delay, failureText(error), !transient, rekey).catch(() => undefined);
    }
  };

  /**
   * Ends a grace period that is over. When that decides nothing (it ended already, or the standing is good
   * again), the column's past time is brought in line with the billing stream, or the tenant would be asked
   * again every round forever: a failure of another invoice after the grace period ended joins it and
   * writes its past end back. Only a past time is replaced, so a newer failure's end is never lost.
   */
  const endGrace = async (tenantId: string) => {
    const now = clock();
    const result = await billing(tenantId, { type: 'EndGracePeriod', at: now.toISOString() }, `grace:${tenantId}`);
    if (result.events.length > 0) return; // GracePeriodEnded: the consumer clears the column
    const state = await billingState(tenantId);
    const pending = state.status === 'open' && state.payment.standing === 'failing' && !state.payment.graceEnded ? state.payment.graceEndsAt : null;
    await tables.customers.graceResync(tenantId, now, pending);
  };

  /** `run` records its own failures, so one job never stops the others. */
  const inParallel = (jobs: readonly Job[]) => runLimited(jobs, concurrency, run);

  /** One round: due account jobs (each tenant's oldest), due usage reports, ended grace periods. Returns how many jobs ran. */
  const tick = async (): Promise<number> => {
    const account = await tables.claimAccount(concurrency);
    await inParallel(account);
    const usage = await tables.claimUsage(200);
    await inParallel(usage);
    for (const tenantId of await tables.customers.graceOver(clock())) {
      await endGrace(tenantId).catch((error: unknown) =>
        log.error({ tenantId, err: failureText(error) }, 'could not end a grace period; trying again next round'),
      );
    }
    // a gauge, not the counter: an alert on it fires while any report waits for an operator
    await tables.undecidedUsage().then(setUsageUndecided, (error: unknown) => log.warn({ err: failureText(error) }, 'could not count the undecided usage reports'));
    return account.length + usage.length;
  };

  return { tick };
};

export type BillingWorker = ReturnType<typeof createBillingWorker>;
