import { expect } from 'vitest';
import { READ_YOUR_WRITES_TIMEOUT_MS } from '../../../adapters/http/dispatch.ts';
import { client, ok } from '../../http/support/client.ts';
import type { Client } from '../../http/support/client.ts';
import { slug } from '../../http/support/journey.ts';

/**
 * Operator → tenant → key → token → conversation → message → knight, each read back with
 * `minPosition`: it can only contain the message if a projector ran and the read side heard of it.
 */
export const journey = async (baseUrl: string, operatorKey: string) => {
  const operator = client(baseUrl, operatorKey);
  const tenantId = slug('role');
  ok(await operator.post('/tenants', { slug: tenantId, name: 'Role test', tier: 'pro' }), 201);
  const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'e2e' }), 201);
  await readFresh(operator, `/tenants/${tenantId}?minPosition=${issued.position}`);
  const token = ok(await client(baseUrl, issued.key).post<{ access_token: string }>('/auth/token'), 200).access_token;
  const me = client(baseUrl, token);
  const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'e2e' }), 201);
  const text = `hello from ${tenantId}`;
  const posted = ok(await me.post<{ messageId: string; position: string }>(`/conversations/${conversationId}/messages`, { text }), 201);
  const history = await readFresh(me, `/conversations/${conversationId}/messages?minPosition=${posted.position}`);
  // the local agent's reply may already follow it
  expect((history as { items: unknown[] }).items[0]).toMatchObject({ messageId: posted.messageId, role: 'user', text });
  const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Build the website', cpu: 2, ramGb: 4 }), 202);
  const knights = await readFresh(me, `/knights?minPosition=${knight.position}`);
  expect(knights).toMatchObject({ items: [{ knightId: knight.knightId, task: 'Build the website' }] });
  return { tenantId, token, conversationId };
};

/** A GET with minPosition: answered within the bound, with the read models caught up (no lag headers). */
export const readFresh = async (caller: Client, pathAndQuery: string) => {
  const started = performance.now();
  const reply = await caller.get(pathAndQuery);
  expect(performance.now() - started, pathAndQuery).toBeLessThan(READ_YOUR_WRITES_TIMEOUT_MS);
  expect(reply.headers.get('x-read-model-lag'), pathAndQuery).toBeNull();
  expect(reply.headers.get('x-read-model-position'), pathAndQuery).toBeNull();
  return ok(reply, 200);
};
