import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { RunningBilling } from '../../adapters/billing/runner.ts';
import { billingDecider } from '../../domain/billing/index.ts';
import type { BillingState } from '../../domain/billing/index.ts';
import type { Decoded } from '../../domain/events.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { billingStream } from '../../domain/shared/streams.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startBillingOn } from '../../runtime/billing.ts';
import { startStripeDouble } from '../doubles/stripe.ts';
import type { StripeDouble } from '../doubles/stripe.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { eventually } from '../provisioning/support.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

export { eventually };

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The billing role as production runs it, a process of its own (`openclaw-service billing`) on the API
 * harness's schemas, for tests that kill it: `running` once it says so, `stop` by SIGTERM.
 */
export const spawnBillingRole = (api: ApiHarness, stripe: StripeDouble, options: { masterKey: string; instanceId: string }) => {
  const env = {
    ...process.env,
    ...billingEnv(stripe),
    DATABASE_URL: TEST_DATABASE_URL,
    EVENT_STORE: 'postgres',
    EVENT_STORE_SCHEMA: api.schemas.events,
    READ_MODEL_SCHEMA: api.schemas.readModels,
    ENCRYPTION_KEY: options.masterKey, // the billing process reads tenants' names and emails with the API's key
    BILLING_INSTANCE_ID: options.instanceId,
    LOG_LEVEL: 'silent',
  };
  const child: ChildProcessByStdio<null, Readable, null> = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'billing'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const running = new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('billing running') && resolve()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, running, exited, stop: async () => void (child.kill('SIGTERM'), await exited) };
};

export const PRICES = { pro: 'price_pro_test', enterprise: 'price_enterprise_test' } as const;
/** The metered prices set up at the double (usage_type metered), for STRIPE_METERED_PRICE_*. */
export const METERED = { messages: 'price_messages_metered_test', knight_minutes: 'price_knight_minutes_metered_test' } as const;
/** A second metered price for messages, as an operator makes one to change the rate (Stripe prices cannot be edited). */
export const METERED_MESSAGES_V2 = 'price_messages_metered_v2_test';
export const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64url')}`;

export interface TenantView {
  readonly tenantId: string;
  readonly status: string;
  readonly tier: string;
}

/** The platform's environment pointing billing at the double. */
export const billingEnv = (stripe: StripeDouble, extra: Record<string, string> = {}): Record<string, string> => ({
  STRIPE_SECRET_KEY: stripe.secretKey,
  STRIPE_API_URL: stripe.url,
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_PRICE_PRO: PRICES.pro,
  STRIPE_PRICE_ENTERPRISE: PRICES.enterprise,
  STRIPE_MAX_NETWORK_RETRIES: '0',
  STRIPE_TIMEOUT_MS: '5000',
  BILLING_TICK_MS: '50',
  BILLING_RECONCILE_INTERVAL_SECONDS: '0',
  BILLING_RETURN_URL: 'https://app.example/billing',
  OPERATOR_REQUESTS_PER_MINUTE: '100000',
  TIER_REQUESTS_PER_MINUTE: 'free=100000,pro=100000,enterprise=100000',
  ...extra,
});

export interface BillingHarness {
  readonly stripe: StripeDouble;
  readonly api: ApiHarness;
  readonly operator: Client;
  readonly billing: RunningBilling | undefined;
  /**
   * Stops the billing role, runs `meanwhile` (what happens while billing is down), and starts it again with
   * `extra` added to its environment (variables set later); `billing` is the new one.
   */
  restartBilling(extra: Record<string, string>, meanwhile?: () => Promise<void>): Promise<RunningBilling>;
  readonly webhookUrl: string;
  tenant(tier?: 'free' | 'pro' | 'enterprise'): Promise<{ tenantId: string; me: Client }>;
  /** The operator's view of the tenant; with `minPosition` (a command's position), read once the read models have it. */
  tenantView(tenantId: string, minPosition?: string): Promise<TenantView>;
  billingEvents(tenantId: string): Promise<Decoded[]>;
  billingState(tenantId: string): Promise<BillingState>;
  /** The tenant's Stripe customer id, once billing made it. */
  customerOf(tenantId: string): Promise<string>;
  close(): Promise<void>;
}

/** The platform on PostgreSQL over real HTTP, billing in process (unless `inProcess: false`), Stripe a loopback double. */
export const startBillingHarness = async (options: { env?: Record<string, string>; inProcess?: boolean } = {}): Promise<BillingHarness> => {
  const stripe = await startStripeDouble({ meteredPrices: [...Object.values(METERED), METERED_MESSAGES_V2] });
  const env = billingEnv(stripe, options.env);
  const api = await startApiHarness(env);
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const startOn = (on: Record<string, string>) =>
    startBillingOn({ storage: api.storage, shell: api.platform.ports.shell, env: on, eventSchema: api.schemas.events, readModelSchema: api.schemas.readModels, log });
  let started = options.inProcess === false ? undefined : await startOn(env);
  const webhookUrl = `${api.baseUrl}/webhooks/stripe`;
  stripe.setWebhook(webhookUrl, WEBHOOK_SECRET);
  const operator = client(api.baseUrl, api.operatorKey);
  const billingState = async (tenantId: string) => (await api.platform.ports.shell.state(billingDecider, billingStream(asTenantId(tenantId)))).state;
  return {
    stripe,
    api,
    operator,
    get billing() {
      return started?.running;
    },
    async restartBilling(extra, meanwhile) {
      await started?.running.stop();
      await meanwhile?.();
      started = await startOn({ ...env, ...extra });
      return started!.running;
    },
    webhookUrl,
    async tenant(tier = 'pro') {
      const tenantId = slug('b');
      ok(await operator.post('/tenants', { slug: tenantId, name: 'Acme Billing', tier, email: 'billing@acme.example' }), 201);
      const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci' }), 201);
      ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
      return { tenantId, me: client(api.baseUrl, issued.key) };
    },
    tenantView: async (tenantId, minPosition) => ok(await operator.get<TenantView>(`/tenants/${tenantId}${minPosition ? `?minPosition=${minPosition}` : ''}`), 200),
    billingEvents: async (tenantId) => api.storage.codec.decode(await api.storage.store.readStream(billingStream(asTenantId(tenantId))), 'open'),
    billingState,
    customerOf: (tenantId) =>
      eventually(`the Stripe customer of ${tenantId}`, async () => {
        const state = await billingState(tenantId);
        return state.status === 'open' ? state.customerId : undefined;
      }),
    async close() {
      await started?.running.stop();
      await api.close();
      await stripe.close();
    },
  };
};
