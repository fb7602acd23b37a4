import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/logger.ts';
import { projectorOn } from '../../runtime/projector.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant, slug } from '../http/support/journey.ts';
import { connect, pusherOn } from '../ws/support.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';

/** Every metric the issue names, by the name it has at /metrics. */
const METRICS = [
  'openclaw_command_duration_seconds',
  'openclaw_append_duration_seconds',
  'openclaw_append_events',
  'openclaw_projection_position',
  'openclaw_projection_lag_events',
  'openclaw_projection_lag_seconds',
  'openclaw_projector_batch_events',
  'openclaw_consumer_lag_events',
  'openclaw_relay_lag_events',
  'openclaw_relay_lag_seconds',
  'openclaw_websocket_connections',
  'openclaw_saga_steps_total',
  'openclaw_saga_failures_total',
  'openclaw_webhook_requests_total',
  'openclaw_rate_limit_rejections_total',
  'openclaw_http_request_duration_seconds',
];

const scrape = async (stack: ApiHarness, key: string | null = stack.operatorKey) =>
  fetch(`${stack.baseUrl}/metrics`, key ? { headers: { authorization: `Bearer ${key}` } } : {});

/** The value of `name{labels…}` in a Prometheus text page (labels matched as a substring). */
const sample = (page: string, name: string, labels: string): number | undefined => {
  const line = page.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('/metrics', () => {
  let stack: ApiHarness;
  beforeAll(async () => {
    // no projector in the platform: the test runs one of its own, so it can pause it
    stack = await startApiHarness({}, { projector: 'none' });
  }, 60_000);
  afterAll(() => stack?.close());

  it('answers only the operator key, with every metric of the issue', async () => {
    const anonymous = await scrape(stack, null);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()) as object).toMatchObject({ code: 'operator_required' });
    expect((await scrape(stack, 'ocs_wrong_key')).status).toBe(401);
    const page = await scrape(stack);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/plain');
    const text = await page.text();
    for (const name of METRICS) expect(text, name).toContain(`# TYPE ${name} `);
  });

  it('counts commands by name and outcome; the projection lag rises while the projector is paused and falls after', async () => {
    const schema = stack.schemas.readModels;
    const log = createLogger('silent');
    const projector = projectorOn(stack.storage, log, { schema });
    projector.start();
    const operator = client(stack.baseUrl, stack.operatorKey);
    ok(await operator.post('/tenants', { slug: slug('m'), name: 'Metrics', tier: 'free' }), 201);
    const caughtUp = async () => {
      const page = await (await scrape(stack)).text();
      // measurements are reused for a second: wait for one taken after the commands
      const fresh = sample(page, 'openclaw_projection_position', 'projection="tenants"') !== undefined;
      return fresh && sample(page, 'openclaw_projection_lag_events', 'projection="tenants"') === 0 ? page : undefined;
    };
    const before = await waitFor('the projector to catch up', caughtUp);
    expect(sample(before, 'openclaw_command_duration_seconds_count', 'command="CreateTenant",outcome="ok"')).toBeGreaterThanOrEqual(1);
    expect(sample(before, 'openclaw_projection_position', 'projection="tenants"')).toBeGreaterThan(0);

    await projector.stop();
    for (let i = 0; i < 5; i++) ok(await operator.post('/tenants', { slug: slug('m'), name: `Paused ${i}`, tier: 'free' }), 201);
    await new Promise((r) => setTimeout(r, 1_500));
    const paused = await (await scrape(stack)).text();
    expect(sample(paused, 'openclaw_projection_lag_events', 'projection="tenants"')).toBeGreaterThanOrEqual(5);
    expect(sample(paused, 'openclaw_projection_lag_seconds', 'projection="tenants"')).toBeGreaterThanOrEqual(1);
    expect(sample(paused, 'openclaw_append_events_count', '')).toBeGreaterThanOrEqual(6);

    projector.start();
    const after = await waitFor('the lag to fall after the projector resumed', caughtUp);
    expect(sample(after, 'openclaw_projection_lag_seconds', 'projection="tenants"')).toBe(0);
    expect(sample(after, 'openclaw_projector_batch_events_count', `schema="${schema}"`)).toBeGreaterThanOrEqual(2);
    await projector.stop();
  }, 90_000);

  it('every answer carries the security headers', async () => {
    for (const path of ['/healthz', '/readyz', '/api/v1/nowhere', '/openapi.json']) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'none'");
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });
});

describe('/metrics: WebSocket connections and webhook outcomes move', () => {
  let stack: ApiHarness;
  beforeAll(async () => {
    stack = await startApiHarness();
  }, 60_000);
  afterAll(() => stack?.close());

  it('a dashboard socket raises the connections gauge to 1 and closing it lowers it to 0', async () => {
    const pusher = await pusherOn(stack);
    try {
      const gauge = async () => sample(await (await scrape(stack)).text(), 'openclaw_websocket_connections', '');
      expect(await gauge()).toBe(0);
      const { tenantId, key } = await newTenant(client(stack.baseUrl, stack.operatorKey));
      const socket = connect(stack.baseUrl, tenantId, key);
      await socket.until((f) => f.kind === 'hello');
      expect(await gauge()).toBe(1);
      // refused sockets (another tenant's id) are never counted
      const refused = connect(stack.baseUrl, slug('other'), key);
      await refused.closed;
      expect(await gauge()).toBe(1);
      socket.ws.close();
      await socket.closed;
      await waitFor('the gauge back at 0', async () => ((await gauge()) === 0 ? true : undefined), 10_000);
    } finally {
      await pusher.close();
    }
  });

  it('a webhook with a bad signature or secret counts as rejected for its channel; an unreadable Stripe event too', async () => {
    const counter = async (channel: string, outcome: string) =>
      sample(await (await scrape(stack)).text(), 'openclaw_webhook_requests_total', `channel="${channel}",outcome="${outcome}"`) ?? 0;
    const whatsappBefore = await counter('whatsapp', 'rejected');
    const telegramBefore = await counter('telegram', 'rejected');
    const forged = await fetch(`${stack.baseUrl}/webhooks/whatsapp/${slug('wa')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body: JSON.stringify({ object: 'whatsapp_business_account', entry: [] }),
    });
    expect(forged.status).toBe(401);
    const wrongSecret = await fetch(`${stack.baseUrl}/webhooks/telegram/${slug('tg')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'not-the-secret' },
      body: JSON.stringify({ update_id: 1 }),
    });
    expect(wrongSecret.status).toBe(403);
    expect(await counter('whatsapp', 'rejected')).toBe(whatsappBefore + 1);
    expect(await counter('telegram', 'rejected')).toBe(telegramBefore + 1);
    expect(await counter('whatsapp', 'accepted')).toBe(0);
  });
});

describe('/metrics on the API port: operator-key guesses are counted like any failed authentication', () => {
  let stack: ApiHarness;
  beforeAll(async () => {
    stack = await startApiHarness({ AUTH_FAILURES_PER_MINUTE: '3' }, { projector: 'none' });
  }, 60_000);
  afterAll(() => stack?.close());

  it('past the budget a wrong operator secret gets 429 (was 401 without end); the operator key that verified before is still served', async () => {
    expect((await scrape(stack)).status).toBe(200); // the operator key verifies on this process
    const operatorKeyId = stack.operatorKey.split('_')[1]!;
    const guess = (i: number) => `ocs_${operatorKeyId}_${String(i).padStart(43, 'G')}`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await scrape(stack, guess(i))).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refused = await scrape(stack, guess(9));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await refused.json()) as object).toMatchObject({ code: 'rate_limited' });
    expect((await scrape(stack)).status).toBe(200); // the exact key verified here before: no guess
    // one budget with the API: a key never verified here is refused unjudged from this address
    const api = await fetch(`${stack.baseUrl}/api/v1/tenants`, { headers: { authorization: `Bearer ocs_${'z'.repeat(12)}_${'A'.repeat(43)}` } });
    expect(api.status).toBe(429);
  });
});
