import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from './support/client.ts';
import type { Client } from './support/client.ts';
import { newTenant, slug, tokenFor } from './support/journey.ts';
import type { Projector } from '../../adapters/projections/projector.ts';

// The whole API on the real stack: PostgreSQL event store, projector, read models under RLS. One harness.
describe('HTTP API on the real stack', () => {
  let h: ApiHarness;
  let operator: Client;
  beforeAll(async () => {
    h = await startApiHarness();
    operator = client(h.baseUrl, h.operatorKey);
  });
  afterAll(() => h?.close());

  it('end to end: operator creates a tenant → key → token → conversation → message → history → knight deployed and listed', async () => {
    const tenantId = slug('e2e');
    const created = ok(await operator.post<{ tenantId: string; position: string }>('/tenants', { slug: tenantId, name: 'Acme Inc', tier: 'free' }), 201);
    expect(created).toEqual({ tenantId, position: expect.stringMatching(/^\d+$/) });
    const issued = ok(await operator.post<{ keyId: string; key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci' }), 201);
    expect(issued).toMatchObject({ tenantId, scope: 'tenant', key: expect.stringMatching(/^ocs_[a-z0-9]{12}_/) });
    expect(ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200)).toMatchObject({ tenantId, name: 'Acme Inc', tier: 'free', status: 'active' });

    const exchanged = ok(await client(h.baseUrl, issued.key).post<{ access_token: string; token_type: string; expires_in: number }>('/auth/token'), 200);
    expect(exchanged.expires_in).toBeGreaterThan(0);
    const me = client(h.baseUrl, exchanged.access_token);
    expect(ok(await me.get('/tenants/me'), 200)).toMatchObject({ tenantId, tier: 'free', status: 'active' });

    const conversation = ok(await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'Website' }), 201);
    const posted = ok(await me.post<{ messageId: string; position: string }>(`/conversations/${conversation.conversationId}/messages`, { text: 'Build me a website' }), 201);
    expect(BigInt(posted.position)).toBeGreaterThan(BigInt(conversation.position));
    const history = await me.get<{ items: { messageId: string; text: string; role: string; seq: number }[] }>(
      `/conversations/${conversation.conversationId}/messages?minPosition=${posted.position}`,
    );
    expect(ok(history, 200).items).toEqual([expect.objectContaining({ messageId: posted.messageId, text: 'Build me a website', role: 'user', seq: 1 })]);
    expect(history.headers.get('x-read-model-lag')).toBeNull();
    expect(ok(await me.get(`/conversations/${conversation.conversationId}`), 200)).toMatchObject({ title: 'Website', status: 'open', messageCount: 1 });

    const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: 'Build website', cpu: 2, ramGb: 4 }), 202);
    const knights = ok(await me.get<{ items: { knightId: string; task: string; status: string }[] }>(`/knights?minPosition=${knight.position}`), 200);
    expect(knights.items).toEqual([expect.objectContaining({ knightId: knight.knightId, task: 'Build website', status: 'requested', cpu: 2, ramGb: 4 })]);
    expect(ok(await me.get(`/knights/${knight.knightId}`), 200)).toMatchObject({ knightId: knight.knightId });
    const terminating = ok(await me.delete<{ position: string }>(`/knights/${knight.knightId}`), 202);
    expect(ok(await me.get(`/knights/${knight.knightId}?minPosition=${terminating.position}`), 200)).toMatchObject({ status: 'terminating' });
  });

  it("another tenant's objects are 404, never 403; malformed ids are 400", async () => {
    const a = await newTenant(operator);
    const b = await newTenant(operator);
    const asA = client(h.baseUrl, a.key);
    const asB = client(h.baseUrl, b.key);
    const theirs = ok(await asB.post<{ conversationId: string; position: string }>('/conversations', {}), 201);
    const knight = ok(await asB.post<{ knightId: string; position: string }>('/knights', { task: 'x' }), 202);
    ok(await asB.get(`/knights/${knight.knightId}?minPosition=${knight.position}`), 200);
    for (const reply of [
      await asA.get(`/conversations/${theirs.conversationId}?minPosition=${theirs.position}`),
      await asA.get(`/conversations/${theirs.conversationId}/messages`),
      await asA.post(`/conversations/${theirs.conversationId}/messages`, { text: 'hi' }),
      await asA.post(`/conversations/${theirs.conversationId}/close`, {}),
      await asA.get(`/knights/${knight.knightId}`),
      await asA.get(`/knights/${knight.knightId}/screenshot`),
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
    const tenant = client(h.baseUrl, key);
    const issued = ok(await tenant.post<{ key: string; position: string }>('/api-keys', { label: 'audit', scope: 'auditor' }), 201);
    ok(await tenant.get(`/api-keys?minPosition=${issued.position}`), 200);
    const auditor = client(h.baseUrl, await tokenFor(h.baseUrl, issued.key));
    ok(await auditor.get('/conversations'), 200);
    ok(await auditor.get('/api-keys'), 200);
    for (const reply of [await auditor.post('/conversations', {}), await auditor.post('/knights', { task: 'x' }), await auditor.post('/api-keys', { label: 'x' }), await auditor.delete(`/knights/${randomUUID()}`)])
      expect([reply.status, reply.body.code]).toEqual([403, 'insufficient_scope']);
    expect((await tenant.post('/tenants', { slug: slug('x'), name: 'x' })).status).toBe(403);
    expect((await tenant.get(`/tenants/${tenantId}`)).status).toBe(403);
    expect((await operator.get('/conversations')).status).toBe(403);
  });

  it('credentials: X-Api-Key works, both headers at once is 400, none or a wrong one is 401 with WWW-Authenticate', async () => {
    const { tenantId, key } = await newTenant(operator);
    expect(ok(await client(h.baseUrl).get('/tenants/me', { 'x-api-key': key }), 200)).toMatchObject({ tenantId });
    expect((await client(h.baseUrl, key).get('/tenants/me', { 'x-api-key': key })).body.code).toBe('ambiguous_credentials');
    for (const reply of [await client(h.baseUrl).get('/tenants/me'), await client(h.baseUrl, `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`).get('/tenants/me'), await client(h.baseUrl, 'not.a.jwt').get('/tenants/me')]) {
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('lists page with limit 1..100 (default 20) and an opaque cursor; bad limits, cursors and positions are 400', async () => {
    const { key } = await newTenant(operator, 'pro');
    const me = client(h.baseUrl, key);
    const titles: string[] = [];
    let last = '';
    for (let i = 0; i < 3; i++) {
      titles.push(`c${i}`);
      last = ok(await me.post<{ position: string }>('/conversations', { title: `c${i}` }), 201).position;
    }
    const first = ok(await me.get<{ items: { title: string }[]; next: string | null }>(`/conversations?limit=2&minPosition=${last}`), 200);
    expect(first.items.map((c) => c.title)).toEqual(['c2', 'c1']);
    expect(first.next).not.toBeNull();
    const second = ok(await me.get<{ items: { title: string }[]; next: string | null }>(`/conversations?limit=2&cursor=${encodeURIComponent(first.next!)}`), 200);
    expect([second.items.map((c) => c.title), second.next]).toEqual([['c0'], null]);
    expect(ok(await me.get<{ items: unknown[] }>('/conversations'), 200).items).toHaveLength(3);
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1&limit=2', 'minPosition=abc', 'minPosition=-1', 'minPosition=1.5'])
      expect(await me.get(`/conversations?${q}`).then((r) => [q, r.status, r.body.code])).toEqual([q, 400, 'invalid_query']);
    for (const cursor of ['not-a-cursor', '%%%', Buffer.from('-1').toString('base64url')])
      expect(await me.get(`/conversations?cursor=${encodeURIComponent(cursor)}`).then((r) => [cursor, r.status])).toEqual([cursor, 400]);
  });

  it('Idempotency-Key: a repeat answers the first status and body with Idempotent-Replayed, appending nothing; another body is 409', async () => {
    const { key } = await newTenant(operator, 'pro');
    const me = client(h.baseUrl, key);
    const idem = { 'idempotency-key': `k-${randomUUID()}` };
    const first = await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'once' }, idem);
    const head = await h.storage.store.headPosition();
    const again = await me.post<{ conversationId: string; position: string }>('/conversations', { title: 'once' }, idem);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(await h.storage.store.headPosition()).toBe(head);
    const other = await me.post('/conversations', { title: 'twice' }, idem);
    expect([other.status, other.body.code]).toEqual([409, 'idempotency_key_reused']);
    const knightKey = { 'idempotency-key': `k-${randomUUID()}` };
    const k1 = ok(await me.post('/knights', { task: 'x' }, knightKey), 202);
    const k2 = await me.post('/knights', { task: 'x' }, knightKey);
    expect([k2.status, k2.body, k2.headers.get('idempotent-replayed')]).toEqual([202, k1, 'true']);
    const listed = ok(await me.get<{ items: unknown[] }>(`/conversations?minPosition=${first.body.position}`), 200);
    expect(listed.items).toHaveLength(1);
    for (const bad of ['has space', 'x'.repeat(201), 'tab\there'])
      expect((await me.post('/conversations', {}, { 'idempotency-key': bad })).body.code).toBe('invalid_idempotency_key');
  });

  it("Idempotency-Key belongs to its caller, not to one stream: reused for another tenant's slug or path, or another of the tenant's requests, it is 409 and creates nothing", async () => {
    const idem = { 'idempotency-key': `create-${randomUUID()}` };
    const [first, second] = [slug('idem'), slug('idem')];
    const created = ok(await operator.post<{ tenantId: string; position: string }>('/tenants', { slug: first, name: 'First' }, idem), 201);
    const again = await operator.post('/tenants', { slug: first, name: 'First' }, idem);
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([201, created, 'true']);
    const head = await h.storage.store.headPosition();
    const other = await operator.post('/tenants', { slug: second, name: 'Second' }, idem);
    expect([other.status, other.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect(await h.storage.store.headPosition()).toBe(head);
    expect(await h.storage.store.readStream(`tenant-${second}`)).toEqual([]);
    expect((await operator.get(`/tenants/${second}`)).status).toBe(404);
    // the same key on an operator route of another tenant's path
    const a = await newTenant(operator);
    const b = await newTenant(operator);
    const keyIdem = { 'idempotency-key': `key-${randomUUID()}` };
    ok(await operator.post(`/tenants/${a.tenantId}/api-keys`, { label: 'once' }, keyIdem), 201);
    const elsewhere = await operator.post(`/tenants/${b.tenantId}/api-keys`, { label: 'once' }, keyIdem);
    expect([elsewhere.status, elsewhere.body.code]).toEqual([409, 'idempotency_key_reused']);
    // a tenant's key that started a conversation cannot post a message into another one
    const me = client(h.baseUrl, a.key);
    const mine = { 'idempotency-key': `m-${randomUUID()}` };
    const existing = ok(await me.post<{ conversationId: string }>('/conversations', {}), 201);
    ok(await me.post('/conversations', { title: 'new' }, mine), 201);
    const posted = await me.post(`/conversations/${existing.conversationId}/messages`, { text: 'hello' }, mine);
    expect([posted.status, posted.body.code]).toEqual([409, 'idempotency_key_reused']);
  });

  it('Idempotency-Key on an agent VM request: the repeat answers the same requestId, not null', async () => {
    const { key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const idem = { 'idempotency-key': `vm-${randomUUID()}` };
    const first = ok(await me.post<{ requestId: string | null }>('/tenants/me/agent-vm', {}, idem), 202);
    expect(first.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await me.post<{ requestId: string | null }>('/tenants/me/agent-vm', {}, idem);
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([202, first, 'true']);
    // without a key, a request while one is in progress changes nothing and says so
    expect(ok(await me.post<{ requestId: string | null }>('/tenants/me/agent-vm', {}), 202).requestId).toBeNull();
  });

  it('Idempotency-Key on issuing an API key: the repeat names the key it issued (never its secret again), so a client that lost the answer can revoke it', async () => {
    const { key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const idem = { 'idempotency-key': `key-${randomUUID()}` };
    const first = ok(await me.post<{ keyId: string; key: string | null; position: string }>('/api-keys', { label: 'lost' }, idem), 201);
    const again = await me.post<{ keyId: string; key: string | null }>('/api-keys', { label: 'lost' }, idem);
    expect([again.status, again.body, again.headers.get('idempotent-replayed')]).toEqual([201, { ...first, key: null }, 'true']);
    const listed = ok(await me.get<{ items: { keyId: string; label: string }[] }>(`/api-keys?minPosition=${first.position}`), 200);
    expect(listed.items.filter((k) => k.label === 'lost').map((k) => k.keyId)).toEqual([first.keyId]);
    ok(await me.delete(`/api-keys/${again.body.keyId}`), 200);
    expect((await client(h.baseUrl, first.key!).get('/tenants/me')).status).toBe(401);
  });

  it('a revoked key stops working at once, as do its tokens', async () => {
    const { key } = await newTenant(operator);
    const tenant = client(h.baseUrl, key);
    const extra = ok(await tenant.post<{ keyId: string; key: string; position: string }>('/api-keys', { label: 'temp' }), 201);
    ok(await tenant.get(`/api-keys?minPosition=${extra.position}`), 200);
    const token = await tokenFor(h.baseUrl, extra.key);
    ok(await client(h.baseUrl, token).get('/tenants/me'), 200);
    const revoked = ok(await tenant.delete<{ position: string }>(`/api-keys/${extra.keyId}`), 200);
    for (const credential of [extra.key, token]) {
      const reply = await client(h.baseUrl, credential).get('/tenants/me');
      expect(reply.status).toBe(401);
      expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const keys = ok(await tenant.get<{ items: { keyId: string; revokedAt: string | null }[] }>(`/api-keys?minPosition=${revoked.position}`), 200);
    expect(keys.items.find((k) => k.keyId === extra.keyId)?.revokedAt).toEqual(expect.any(String));
    expect(JSON.stringify(keys)).not.toMatch(/hash|ocs_/);
  });

  it('a suspended tenant can still revoke a key (cutting access is never refused); the key stops reading at once', async () => {
    const { tenantId, key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const leaked = ok(await me.post<{ keyId: string; key: string; position: string }>('/api-keys', { label: 'leaked' }), 201);
    ok(await me.get(`/api-keys?minPosition=${leaked.position}`), 200);
    const suspended = ok(await operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'unpaid' }), 200);
    ok(await client(h.baseUrl, leaked.key).get(`/conversations?minPosition=${suspended.position}`), 200); // reads go on while suspended
    const revoked = await me.delete(`/api-keys/${leaked.keyId}`);
    expect([revoked.status, revoked.body.code]).toEqual([200, undefined]);
    expect((await client(h.baseUrl, leaked.key).get('/conversations')).status).toBe(401);
    expect(await me.post('/api-keys', { label: 'new' }).then((r) => [r.status, r.body.code])).toEqual([403, 'tenant_suspended']);
  });

  it('operator lifecycle: tier, suspend (tenant commands refused), reinstate, erase', async () => {
    const { tenantId, key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    ok(await operator.post(`/tenants/${tenantId}/tier`, { tier: 'pro' }), 200);
    const suspended = ok(await operator.post<{ position: string }>(`/tenants/${tenantId}/suspend`, { reason: 'unpaid' }), 200);
    expect(ok(await operator.get(`/tenants/${tenantId}?minPosition=${suspended.position}`), 200)).toMatchObject({ tier: 'pro', status: 'suspended' });
    expect(await me.post('/conversations', {}).then((r) => [r.status, r.body.code])).toEqual([403, 'tenant_suspended']);
    ok(await operator.post(`/tenants/${tenantId}/reinstate`), 200);
    ok(await me.post('/conversations', {}), 201);
    expect((await operator.post(`/tenants/${slug('nobody')}/suspend`, { reason: 'x' })).status).toBe(404);
    expect((await operator.post('/tenants', { slug: tenantId, name: 'again' })).status).toBe(409);
    const erased = ok(await operator.delete<{ position: string }>(`/tenants/${tenantId}`), 200);
    expect(ok(await operator.get(`/tenants/${tenantId}?minPosition=${erased.position}`), 200)).toMatchObject({ status: 'erased', name: '' });
    expect((await operator.post('/tenants', { slug: tenantId, name: 'reborn' })).status).toBe(409);
  });

  it('the operator lists every tenant by id, a page at a time, names revealed; tenants may not; a bad cursor or limit is 400', async () => {
    const made = [slug('lsa'), slug('lsb'), slug('lsc')];
    let position = '0';
    for (const [i, tenantId] of made.entries())
      position = ok(await operator.post<{ position: string }>('/tenants', { slug: tenantId, name: `Listed ${i}`, email: `l${i}@example.test`, tier: 'pro' }), 201).position;
    type Line = { tenantId: string; name: string; email: string | null; tier: string; status: string };
    const seen: Line[] = [];
    let pages = 0;
    for (let cursor: string | null = null; pages === 0 || cursor !== null; pages++) {
      const page: { items: Line[]; next: string | null } = ok(await operator.get(`/tenants?limit=2&minPosition=${position}${cursor ? `&cursor=${cursor}` : ''}`), 200);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.next;
    }
    const ids = seen.map((t) => t.tenantId);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBeGreaterThan(1);
    for (const [i, tenantId] of made.entries())
      expect(seen.find((t) => t.tenantId === tenantId)).toEqual({ tenantId, name: `Listed ${i}`, email: `l${i}@example.test`, tier: 'pro', status: 'active', createdAt: expect.any(String), updatedAt: expect.any(String) });
    const { key } = await newTenant(operator);
    expect((await client(h.baseUrl, key).get('/tenants')).status).toBe(403);
    expect((await operator.get('/tenants?cursor=not-a-cursor!')).body.code).toBe('invalid_cursor');
    expect((await operator.get(`/tenants?cursor=${Buffer.from('X no').toString('base64url')}`)).status).toBe(400);
    expect((await operator.get('/tenants?limit=0')).status).toBe(400);
  });

  it('X-Request-Id is echoed when valid and generated otherwise; unknown routes are 404 problems', async () => {
    const good = await operator.get('/tenants/nope-nope', { 'x-request-id': 'req-abc_123' });
    expect(good.headers.get('x-request-id')).toBe('req-abc_123');
    expect(good.body.requestId).toBe('req-abc_123');
    const bad = await operator.get('/tenants/nope-nope', { 'x-request-id': 'bad id !' });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // the agent's mark of a knight deployed from a chat: a client cannot claim it (the knight's reports would be posted there)
    const chat = await operator.get('/tenants/nope-nope', { 'x-request-id': 'agent-chat:c1:m1' });
    expect(chat.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unknown = await operator.get('/nothing-here');
    expect([unknown.status, unknown.body.code, unknown.headers.get('content-type')]).toEqual([404, 'route_not_found', expect.stringMatching(/problem\+json/)]);
  });

  it('the request id becomes the correlation id in the stored event; a valid traceparent is kept, an invalid one dropped', async () => {
    const { tenantId, key, keyId } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const started = ok(await me.post<{ conversationId: string }>('/conversations', {}, { 'x-request-id': 'corr-1', traceparent }), 201);
    const [event] = await h.storage.store.readStream(`conversation-${tenantId}.${started.conversationId}`);
    expect(event?.metadata).toMatchObject({ tenantId, correlationId: 'corr-1', traceparent, actor: `apikey:${keyId}` });
    const other = ok(await me.post<{ conversationId: string }>('/conversations', {}, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }), 201);
    const [second] = await h.storage.store.readStream(`conversation-${tenantId}.${other.conversationId}`);
    expect(second?.metadata.traceparent).toBeUndefined();
  });

  it('bodies: not JSON is 415, malformed is 400, over 1 MiB is 413, unknown fields are 400 with paths — none of them appends', async () => {
    const { key } = await newTenant(operator, 'pro');
    const me = client(h.baseUrl, key);
    const head = await h.storage.store.headPosition();
    expect((await me.call('POST', '/knights', 'task=x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await me.call('POST', '/knights', '{"task":')).body.code).toBe('malformed_json');
    expect((await me.post('/knights', { task: 'x'.repeat(1024 * 1024) })).status).toBe(413);
    const invalid = await me.post('/knights', { task: '', cpu: 3, extra: 1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: 'invalid_body' });
    expect((invalid.body.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['', 'cpu', 'task']);
    expect(await h.storage.store.headPosition()).toBe(head);
  });

  // Last: it stops and restarts the projector.
  it('a read model behind minPosition still answers after the wait, with X-Read-Model-Lag and X-Read-Model-Position', async () => {
    const { key } = await newTenant(operator);
    const me = client(h.baseUrl, key);
    const before = ok(await me.post<{ position: string }>('/conversations', {}), 201).position;
    ok(await me.get(`/conversations?minPosition=${before}`), 200);
    const projector = h.platform.projector as Projector; // the harness runs it inline
    await projector.stop();
    let posted: { position: string };
    try {
      posted = ok(await me.post<{ position: string }>('/conversations', {}), 201);
      const started = Date.now();
      const reply = await me.get<{ items: unknown[] }>(`/conversations?minPosition=${posted.position}`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
      expect(reply.status).toBe(200);
      expect(reply.body.items).toHaveLength(1);
      expect(reply.headers.get('x-read-model-lag')).toBe('1');
      expect(reply.headers.get('x-read-model-position')).toBe(before);
    } finally {
      projector.start();
    }
    const fresh = await me.get<{ items: unknown[] }>(`/conversations?minPosition=${posted.position}`);
    expect([fresh.status, fresh.body.items.length, fresh.headers.get('x-read-model-lag')]).toEqual([200, 2, null]);
  });
});
