import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, ok } from './client.ts';
import type { Client } from './client.ts';

export interface StartedApi {
  readonly baseUrl: string;
  readonly operatorKey: string;
  close(): Promise<void>;
}

const slug = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Operator makes a tenant and a key; waits (minPosition) until the read model knows the key. */
export const newTenant = async (operator: Client, tier: 'free' | 'pro' | 'enterprise' = 'free', scope: 'tenant' | 'auditor' = 'tenant') => {
  const tenantId = slug('t');
  const created = ok(await operator.post<{ tenantId: string; position: string }>('/tenants', { slug: tenantId, name: 'Acme', tier }), 201);
  expect(created.tenantId).toBe(tenantId);
  expect(created.position).toMatch(/^\d+$/);
  const issued = ok(await operator.post<{ keyId: string; key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci', scope }), 201);
  expect(issued.key).toMatch(/^ocs_[a-z0-9]{12}_/);
  ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
  return { tenantId, key: issued.key, keyId: issued.keyId };
};

export const tokenFor = async (baseUrl: string, key: string) =>
  ok(await client(baseUrl, key).post<{ access_token: string; expires_in: number }>('/auth/token'), 200).access_token;

/** The user journey and the API's promises, against any stack that serves the router. */
export const apiJourneySpecs = (name: string, start: () => Promise<StartedApi>) =>
  describe(`HTTP API journey (${name})`, () => {
    let api: StartedApi;
    let operator: Client;
    beforeAll(async () => {
      api = await start();
      operator = client(api.baseUrl, api.operatorKey);
    });
    afterAll(() => api?.close());

    it('operator creates a tenant → key → token → conversation → message → history → knight', async () => {
      const { tenantId, key } = await newTenant(operator);
      const me = client(api.baseUrl, await tokenFor(api.baseUrl, key));
      expect(ok(await me.get(`/tenants/me`), 200)).toMatchObject({ tenantId, tier: 'free', status: 'active' });

      const conversation = ok(await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'Website' }), 201);
      const posted = ok(await me.post<{ messageId: string; position: string }>(`/conversations/${conversation.conversationId}/messages`, { text: 'Build me a website' }), 201);
      expect(posted.position).toMatch(/^\d+$/);
      const history = await me.get<{ items: { messageId: string; text: string; role: string }[] }>(
        `/conversations/${conversation.conversationId}/messages?minPosition=${posted.position}`,
      );
      expect(ok(history, 200).items).toContainEqual(expect.objectContaining({ messageId: posted.messageId, text: 'Build me a website', role: 'user' }));
      expect(history.headers.get('x-read-model-lag')).toBeNull();

      const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Build website', cpu: 2, ramGb: 4 }), 202);
      const knights = ok(await me.get<{ items: { knightId: string; task: string }[] }>(`/knights?minPosition=${knight.position}`), 200);
      expect(knights.items).toContainEqual(expect.objectContaining({ knightId: knight.knightId, task: 'Build website' }));
      expect(ok(await me.get(`/knights/${knight.knightId}`), 200)).toMatchObject({ knightId: knight.knightId });
      ok(await me.delete(`/knights/${knight.knightId}`), 202);
    });

    it("another tenant's objects are 404, never 403; malformed ids are 400", async () => {
      const a = await newTenant(operator);
      const b = await newTenant(operator);
      const asA = client(api.baseUrl, a.key);
      const asB = client(api.baseUrl, b.key);
      const theirs = ok(await asB.post<{ conversationId: string; position: string }>('/conversations', {}), 201);
      const knight = ok(await asB.post<{ knightId: string; position: string }>('/knights', { task: 'x' }), 202);
      ok(await asB.get(`/knights/${knight.knightId}?minPosition=${knight.position}`), 200);
      for (const reply of [
        await asA.get(`/conversations/${theirs.conversationId}?minPosition=${theirs.position}`),
        await asA.get(`/conversations/${theirs.conversationId}/messages`),
        await asA.post(`/conversations/${theirs.conversationId}/messages`, { text: 'hi' }),
        await asA.post(`/conversations/${theirs.conversationId}/close`, {}),
        await asA.get(`/knights/${knight.knightId}`),
        await asA.delete(`/knights/${knight.knightId}`),
        await asA.delete(`/api-keys/${b.keyId}`),
        await asA.get(`/conversations/${randomUUID()}`),
      ])
        expect(reply.status, JSON.stringify(reply.body)).toBe(404);
      for (const path of ['/conversations/has%20space', `/conversations/${'x'.repeat(65)}`, '/knights/%E2%9C%93', '/conversations/a.b/messages'])
        expect(await asA.get(path).then((r) => [r.status, r.body.code])).toEqual([400, 'invalid_path']);
    });

    it('auditors read; any write is 403 insufficient_scope; tenants cannot use operator routes', async () => {
      const { tenantId, key } = await newTenant(operator);
      const tenant = client(api.baseUrl, key);
      const issued = ok(await tenant.post<{ key: string; position: string }>('/api-keys', { label: 'audit', scope: 'auditor' }), 201);
      ok(await tenant.get(`/api-keys?minPosition=${issued.position}`), 200);
      const auditor = client(api.baseUrl, await tokenFor(api.baseUrl, issued.key));
      ok(await auditor.get('/conversations'), 200);
      ok(await auditor.get('/api-keys'), 200);
      for (const reply of [await auditor.post('/conversations', {}), await auditor.post('/knights', { task: 'x' }), await auditor.post('/api-keys', { label: 'x' }), await auditor.delete(`/knights/${randomUUID()}`)])
        expect([reply.status, reply.body.code]).toEqual([403, 'insufficient_scope']);
      expect((await tenant.post('/tenants', { slug: slug('x'), name: 'x' })).status).toBe(403);
      expect((await tenant.get(`/tenants/${tenantId}`)).status).toBe(403);
      expect((await operator.get('/conversations')).status).toBe(403);
    });

    it('lists page with limit 1..100 (default 20) and an opaque cursor; bad limits and positions are 400', async () => {
      const { key } = await newTenant(operator, 'pro');
      const me = client(api.baseUrl, key);
      let last = '';
      for (let i = 0; i < 3; i++) last = ok(await me.post<{ position: string }>('/conversations', { title: `c${i}` }), 201).position;
      const first = ok(await me.get<{ items: unknown[]; next: string | null }>(`/conversations?limit=2&minPosition=${last}`), 200);
      expect(first.items).toHaveLength(2);
      expect(first.next).not.toBeNull();
      const second = ok(await me.get<{ items: unknown[]; next: string | null }>(`/conversations?limit=2&cursor=${encodeURIComponent(first.next!)}`), 200);
      expect(second.items).toHaveLength(1);
      expect(ok(await me.get<{ items: unknown[] }>('/conversations'), 200).items).toHaveLength(3);
      for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1&limit=2', 'minPosition=abc', 'minPosition=-1', 'minPosition=1.5'])
        expect(await me.get(`/conversations?${q}`).then((r) => [q, r.status, r.body.code])).toEqual([q, 400, 'invalid_query']);
    });

    it('Idempotency-Key: a repeat answers the first status and body with Idempotent-Replayed; another body is 409', async () => {
      const { key } = await newTenant(operator, 'pro');
      const me = client(api.baseUrl, key);
      const idem = { 'idempotency-key': `k-${randomUUID()}` };
      const first = await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'once' }, idem);
      const again = await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'once' }, idem);
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const other = await me.post('/conversations', { title: 'twice' }, idem);
      expect([other.status, other.body.code]).toEqual([409, 'idempotency_key_reused']);
      const knightKey = { 'idempotency-key': `k-${randomUUID()}` };
      const k1 = ok(await me.post('/knights', { task: 'x' }, knightKey), 202);
      const k2 = await me.post('/knights', { task: 'x' }, knightKey);
      expect([k2.status, k2.body, k2.headers.get('idempotent-replayed')]).toEqual([202, k1, 'true']);
      for (const bad of ['has space', 'x'.repeat(201), 'tab\there'])
        expect((await me.post('/conversations', {}, { 'idempotency-key': bad })).body.code).toBe('invalid_idempotency_key');
    });

    it('a revoked key stops working at once, as do its tokens', async () => {
      const { key } = await newTenant(operator);
      const tenant = client(api.baseUrl, key);
      const extra = ok(await tenant.post<{ keyId: string; key: string; position: string }>('/api-keys', { label: 'temp' }), 201);
      ok(await tenant.get(`/api-keys?minPosition=${extra.position}`), 200);
      const token = await tokenFor(api.baseUrl, extra.key);
      ok(await client(api.baseUrl, token).get('/tenants/me'), 200);
      ok(await tenant.delete(`/api-keys/${extra.keyId}`), 200);
      for (const credential of [extra.key, token]) {
        const reply = await client(api.baseUrl, credential).get('/tenants/me');
        expect(reply.status).toBe(401);
        expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    });

    it('operator lifecycle: tier, suspend (tenant commands refused), reinstate', async () => {
      const { tenantId, key } = await newTenant(operator);
      const me = client(api.baseUrl, key);
      ok(await operator.post(`/tenants/${tenantId}/tier`, { tier: 'pro' }), 200);
      const suspended = ok(await operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'unpaid' }), 200);
      expect(ok(await operator.get(`/tenants/${tenantId}?minPosition=${suspended.position}`), 200)).toMatchObject({ tier: 'pro', status: 'suspended' });
      expect(await me.post('/conversations', {}).then((r) => [r.status, r.body.code])).toEqual([403, 'tenant_suspended']);
      ok(await operator.post(`/tenants/${tenantId}/reinstate`), 200);
      ok(await me.post('/conversations', {}), 201);
      expect((await operator.post(`/tenants/${slug('nobody')}/suspend`, { reason: 'x' })).status).toBe(404);
      expect((await operator.post('/tenants', { slug: tenantId, name: 'again' })).status).toBe(409);
    });

    it('X-Request-Id is echoed when valid and generated otherwise; unknown routes are 404 problems', async () => {
      const good = await operator.get('/tenants/nope-nope', { 'x-request-id': 'req-abc_123' });
      expect(good.headers.get('x-request-id')).toBe('req-abc_123');
      expect(good.body.requestId).toBe('req-abc_123');
      const bad = await operator.get('/tenants/nope-nope', { 'x-request-id': 'bad id !' });
      expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const unknown = await operator.get('/nothing-here');
      expect([unknown.status, unknown.body.code, unknown.headers.get('content-type')]).toEqual([404, 'route_not_found', expect.stringMatching(/problem\+json/)]);
    });
  });
