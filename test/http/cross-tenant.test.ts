import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../adapters/http/routes/index.ts';
import type { ApiRoute } from '../../adapters/http/routes/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from './support/client.ts';
import type { Client, Reply } from './support/client.ts';
import { slug } from './support/journey.ts';
import { seedTenant } from './support/seed.ts';
import type { SeededTenant } from './support/seed.ts';

/** A body each POST route with a path parameter would accept, so that only the id decides the answer. */
const VALID_BODIES: Record<string, unknown> = {
  'POST /conversations/:conversationId/messages': { text: 'written by A into B?' },
  'POST /conversations/:conversationId/close': { reason: 'closed by A?' },
  'POST /tenants/:tenantId/tier': { tier: 'free' },
  'POST /tenants/:tenantId/suspend': { reason: 'suspended by A?' },
  'POST /tenants/:tenantId/reinstate': {},
  'POST /tenants/:tenantId/api-keys': { label: 'minted by A?' },
  'POST /tenants/:tenantId/agent-vm': {},
  'POST /tenants/:tenantId/agent/bridge-token/revoke': { reason: 'revoked by A?' },
};

const routeName = (route: ApiRoute) => `${route.method.toUpperCase()} ${route.path}`;
const paramsOf = (route: ApiRoute) => [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);

describe("cross-tenant matrix: with A's credentials, every route that takes an id, given B's ids", () => {
  let h: ApiHarness;
  let a: SeededTenant;
  let b: SeededTenant;
  let asB: Client;

  /** Everything B can see of itself, read with B's own key. */
  const viewsOfB = async (minPosition?: string) => {
    const fresh = minPosition === undefined ? '' : `?minPosition=${minPosition}`;
    const paths = [
      `/tenants/me${fresh}`,
      `/api-keys${fresh}`,
      `/conversations${fresh}`,
      ...b.conversationIds.flatMap((id) => [`/conversations/${id}${fresh}`, `/conversations/${id}/messages${fresh}`]),
      `/knights${fresh}`,
      `/knights/${b.knightId}${fresh}`,
    ];
    const views: Record<string, unknown> = {};
    for (const path of paths) {
      const reply = await asB.get(path);
      expect(reply.headers.get('x-read-model-lag'), path).toBeNull();
      views[path.replace(fresh, '')] = ok(reply, 200);
    }
    const operatorView = await client(h.baseUrl, h.operatorKey).get(`/tenants/${b.tenantId}${fresh}`);
    views['operator:/tenants/B'] = ok(operatorView, 200);
    return views;
  };

  beforeAll(async () => {
    h = await startApiHarness();
    [a, b] = [await seedTenant(h, { conversations: 2 }), await seedTenant(h, { conversations: 2 })];
    asB = client(h.baseUrl, b.key);
  });
  afterAll(() => h?.close());

  const idRoutes = API_ROUTES.filter((r) => r.path.includes(':'));

  it('covers every route with a path parameter, and has a valid body for each such POST', () => {
    expect(idRoutes.length).toBeGreaterThanOrEqual(13);
    for (const route of idRoutes.filter((r) => r.method === 'post')) expect(VALID_BODIES, routeName(route)).toHaveProperty([routeName(route)]);
    for (const param of idRoutes.flatMap(paramsOf)) expect(['tenantId', 'conversationId', 'knightId', 'keyId']).toContain(param);
  });

  for (const via of ['api key', 'JWT'] as const)
    it(`via A's ${via}: B's objects are 404 (as is an id nobody has), operator routes are 403 insufficient_scope; B is unchanged and nothing is appended`, async () => {
      const asA = client(h.baseUrl, via === 'api key' ? a.key : a.token);
      await expect(asA.get('/tenants/me').then((r) => r.body.tenantId)).resolves.toBe(a.tenantId);
      const before = await viewsOfB(b.position);
      const head = await h.storage.store.headPosition();

      // Each of B's ids; for ids that come in several (conversations, keys) every one of them.
      const bIds: Record<string, string[]> = {
        tenantId: [b.tenantId],
        conversationId: [...b.conversationIds],
        knightId: [b.knightId],
        keyId: [b.keyId, b.spareKeyId],
      };
      const nobodys: Record<string, string> = { tenantId: slug('nobody'), conversationId: randomUUID(), knightId: randomUUID(), keyId: 'zzzzzzzzzzzz' };
      const call = (route: ApiRoute, path: string): Promise<Reply> =>
        asA.call(route.method.toUpperCase(), path, route.method === 'post' ? VALID_BODIES[routeName(route)] : undefined);
      const seen: string[] = [];
      for (const route of idRoutes) {
        const [param] = paramsOf(route);
        const tenantMayCall = route.scopes.includes('tenant');
        for (const id of bIds[param!]!) {
          const path = route.path.replace(`:${param}`, id);
          const reply = await call(route, path);
          const unknown = await call(route, route.path.replace(`:${param}`, nobodys[param!]!));
          seen.push(`${route.method} ${path} → ${reply.status}`);
          if (tenantMayCall) {
            expect([routeName(route), reply.status], JSON.stringify(reply.body)).toEqual([routeName(route), 404]);
            // Not even the problem's code tells B's object from one that does not exist.
            expect([reply.status, reply.body.code, reply.body.title], routeName(route)).toEqual([unknown.status, unknown.body.code, unknown.body.title]);
            expect(JSON.stringify(reply.body)).not.toContain(b.tenantId);
          } else {
            expect([routeName(route), reply.status, reply.body.code]).toEqual([routeName(route), 403, 'insufficient_scope']);
          }
        }
      }
      expect(seen.length).toBeGreaterThanOrEqual(idRoutes.length);

      // Nothing anywhere was appended by any of those requests, and B reads exactly as before.
      const after = await h.storage.store.headPosition();
      expect(after).toBe(head);
      expect(await viewsOfB(String(after))).toEqual(before);
    });

  it("every list A can read holds A's rows and none of B's", async () => {
    for (const credential of [a.key, a.token]) {
      const asA = client(h.baseUrl, credential);
      const fresh = `minPosition=${a.position}`;
      const lists = {
        conversations: ok(await asA.get<{ items: { conversationId: string }[] }>(`/conversations?limit=100&${fresh}`), 200),
        knights: ok(await asA.get<{ items: { knightId: string }[] }>(`/knights?limit=100&${fresh}`), 200),
        apiKeys: ok(await asA.get<{ items: { keyId: string }[] }>(`/api-keys?${fresh}`), 200),
        messages: await Promise.all(
          a.conversationIds.map(async (id) => ok(await asA.get<{ items: { messageId: string }[] }>(`/conversations/${id}/messages?limit=100&${fresh}`), 200)),
        ),
        me: ok(await asA.get<{ tenantId: string }>(`/tenants/me?${fresh}`), 200),
      };
      expect(lists.conversations.items.map((c) => c.conversationId).sort()).toEqual([...a.conversationIds].sort());
      expect(lists.knights.items.map((k) => k.knightId)).toEqual([a.knightId]);
      expect(lists.apiKeys.items.map((k) => k.keyId).sort()).toEqual([a.keyId, a.spareKeyId].sort());
      expect(lists.messages.flatMap((page) => page.items.map((m) => m.messageId)).sort()).toEqual([...a.messageIds].sort());
      expect(lists.me.tenantId).toBe(a.tenantId);
      const text = JSON.stringify(lists);
      for (const id of [b.tenantId, b.keyId, b.spareKeyId, b.knightId, ...b.conversationIds, ...b.messageIds]) expect(text).not.toContain(id);
    }
  });

  it("B's ids smuggled into bodies and queries change nothing: extra fields are 400, the tenant comes from the credential", async () => {
    const asA = client(h.baseUrl, a.key);
    const head = await h.storage.store.headPosition();
    for (const [path, body] of [
      ['/conversations', { tenantId: b.tenantId }],
      ['/knights', { task: 'x', tenantId: b.tenantId }],
      ['/api-keys', { label: 'x', tenantId: b.tenantId }],
      [`/conversations/${a.conversationIds[0]}/messages`, { text: 'x', conversationId: b.conversationIds[0] }],
    ] as const)
      expect([path, (await asA.post(path, body)).status]).toEqual([path, 400]);
    expect(await h.storage.store.headPosition()).toBe(head);
    const listed = ok(await asA.get<{ items: { conversationId: string }[] }>(`/conversations?tenantId=${b.tenantId}&tenant_id=${b.tenantId}`), 200);
    expect(listed.items.map((c) => c.conversationId).sort()).toEqual([...a.conversationIds].sort());
  });
});
