import { randomUUID } from 'node:crypto';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookRouter } from '../../adapters/http/webhooks.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { silent } from '../auth/fixtures.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client } from './support/client.ts';
import { newTenant } from './support/journey.ts';
import { serve } from './serve.ts';
import { tenantExistsOn, WEBHOOK_TRUSTED_LAG_EVENTS } from '../../runtime/platform.ts';
import type { ReadSide } from '../../projections/read-side.ts';

// Anyone can call a webhook with a made-up slug: that must not cost a read of the event store each time.
describe('webhooks for slugs that name no tenant', () => {
  let h: ApiHarness;
  let server: Awaited<ReturnType<typeof serve>>;
  const streamsRead: string[] = [];
  const checked: string[] = [];
  beforeAll(async () => {
    h = await startApiHarness();
    const store = h.storage.store;
    const counting: EventStore = new Proxy(store, {
      get: (target, name, receiver) =>
        name === 'readStream'
          ? (streamId: string, options?: Parameters<EventStore['readStream']>[1]) => (streamsRead.push(streamId), target.readStream(streamId, options))
          : Reflect.get(target, name, receiver),
    });
    const ports = { ...h.platform.ports, shell: createCommandShell({ store: counting, codec: h.storage.codec }) };
    const tenantExists = (tenantId: TenantId) => (checked.push(tenantId), h.platform.reads.tenantExists(tenantId));
    const app = express();
    app.use(createWebhookRouter({ ports, log: silent, tenantExists }));
    server = await serve(app);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  const telegram = (slug: string) =>
    fetch(`${server.url}/webhooks/telegram/${slug}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'guess' },
      body: JSON.stringify({ update_id: 1, message: { message_id: 1, date: 1, chat: { id: 1, type: 'private' }, text: 'hi' } }),
    }).then(async (r) => [r.status, ((await r.json()) as { code?: string }).code]);

  it('a burst of made-up slugs reads no stream; a repeated one is not even checked again; a real tenant is still read', async () => {
    const slugs = Array.from({ length: 30 }, () => `nobody-${randomUUID().slice(0, 8)}`);
    const answers = await Promise.all(slugs.map(telegram));
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify([403, 'webhook_forbidden'])]));
    expect(streamsRead).toEqual([]);

    const repeated = slugs[0]!;
    const checks = checked.length;
    for (let i = 0; i < 5; i++) expect(await telegram(repeated)).toEqual([403, 'webhook_forbidden']);
    expect(checked.length - checks).toBeLessThanOrEqual(1); // remembered for a second: at most one check if it ran out
    expect(streamsRead).toEqual([]);

    // a tenant that exists (no bot connected): the same answer, from its stream
    const real = await newTenant(client(h.baseUrl, h.operatorKey));
    expect(await telegram(real.tenantId)).toEqual([403, 'webhook_forbidden']);
    expect(streamsRead).toContain(`tenant-${real.tenantId}`);
  });

  it('a slug missing from read models far behind the log is read from its stream: a real tenant is not refused while its row is not projected yet', async () => {
    const lagging = (behindEvents: number) =>
      ({ tenantExists: async () => false, waitFor: async () => ({ reached: false, position: 1n, behindEvents }) }) as unknown as ReadSide;
    const store = { headPosition: async () => 50_000n } as unknown as EventStore;
    // caught up within the bound: "no" stands (no stream read)
    await expect(tenantExistsOn(store, lagging(10))('someone' as TenantId)).resolves.toBe(false);
    // rebuilt or restored read models catching up: no answer, so the webhook reads the stream (before: refused as unknown)
    await expect(tenantExistsOn(store, lagging(WEBHOOK_TRUSTED_LAG_EVENTS + 1))('someone' as TenantId)).rejects.toThrow(/behind the log/);
    const app = express();
    const ports = h.platform.ports;
    const real = await newTenant(client(h.baseUrl, h.operatorKey));
    const store2 = new Proxy(h.storage.store, {
      get: (target, name, receiver) => (name === 'readStream' ? (streamId: string, options?: Parameters<EventStore['readStream']>[1]) => (streamsRead.push(streamId), target.readStream(streamId, options)) : Reflect.get(target, name, receiver)),
    });
    app.use(createWebhookRouter({ ports: { ...ports, shell: createCommandShell({ store: store2, codec: h.storage.codec }) }, log: silent, tenantExists: tenantExistsOn(h.storage.store, lagging(WEBHOOK_TRUSTED_LAG_EVENTS * 10)) }));
    const lagged = await serve(app);
    try {
      const before = streamsRead.length;
      await fetch(`${lagged.url}/webhooks/telegram/${real.tenantId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(streamsRead.slice(before)).toContain(`tenant-${real.tenantId}`);
    } finally {
      await lagged.close();
    }
  });
});
