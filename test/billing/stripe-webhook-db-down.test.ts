import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import Stripe from 'stripe';
import { expect, it } from 'vitest';
import { STRIPE_WEBHOOK_PATH } from '../../adapters/billing/webhook.ts';
import type { SqlDb } from '../../adapters/event-store/sql/db.ts';
import { billingHttpOf } from '../../runtime/billing.ts';
import { problemMiddleware } from '../../adapters/http/problem.ts';
import type { CommandShell } from '../../commands/shell/handle-command.ts';
import { storeUnavailable } from '../../domain/ports/event-store.ts';

const SECRET = 'whsec_reviewtestsecret';

/** Posts a signed invoice.paid to the webhook mounted on `db` and `shell` (with the API's problem handler after it). */
const deliver = async (db: SqlDb, shell: CommandShell, eventId: string): Promise<Response> => {
  const log = pino({ level: 'silent' });
  const app = express();
  app.use(billingHttpOf({ env: { STRIPE_WEBHOOK_SECRET: SECRET }, shell, db, eventSchema: 'eventlog', log }).webhook);
  app.use(problemMiddleware(log));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const payload = JSON.stringify({ id: eventId, object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000), data: { object: { id: 'in_1', customer: 'cus_1' } } });
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${STRIPE_WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
    await res.clone().text(); // read before the server closes
    return res;
  } finally {
    server.close();
  }
};

it('POST /webhooks/stripe with the database down answers 503 (docs/billing.md), not an opaque 500', async () => {
  // what pg throws when PostgreSQL is unreachable: customersTable.tenantOf queries it first
  const down = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
  const db = { query: down, exec: down } as unknown as SqlDb;
  expect((await deliver(db, {} as CommandShell, 'evt_1')).status).toBe(503);
});

it('the event store out of reach after the customer was found: 503 with Retry-After, and the driver\'s text (an address) stays out of the answer', async () => {
  // the customer table answers; the append does not (EventStoreDB down, or PostgreSQL lost in between)
  const db = { query: async () => ({ rows: [{ tenant_id: 'acme' }] }), exec: async () => undefined } as unknown as SqlDb;
  const shell = { handle: () => Promise.reject(storeUnavailable('event store unavailable: connect ECONNREFUSED 10.20.30.40:5432')) } as unknown as CommandShell;
  const res = await deliver(db, shell, 'evt_2');
  const body = await res.text();
  expect([res.status, res.headers.get('retry-after')]).toEqual([503, '1']);
  expect(body).toContain('store_unavailable');
  expect(body).not.toMatch(/10\.20\.30\.40|ECONNREFUSED/);
});
