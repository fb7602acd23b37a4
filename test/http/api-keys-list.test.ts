import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from './support/client.ts';
import type { Client, Reply } from './support/client.ts';
import { newTenant } from './support/journey.ts';

interface KeyLine {
  keyId: string;
  scope: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}
interface KeyPage {
  items: KeyLine[];
  next: string | null;
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
/** The list's order: created time, then key id. */
const byCreatedThenId = (a: KeyLine, b: KeyLine) => a.createdAt.localeCompare(b.createdAt) || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0);
/** A problem as any request would get it (the request id differs per request). */
const problemOf = (reply: Reply) => {
  const { requestId: _requestId, ...problem } = reply.body;
  return [reply.status, reply.headers.get('content-type'), problem];
};

// GET /api-keys pages like conversations, knights and tenants: ?limit 1..100, an opaque ?cursor, { items, next }.
describe('GET /api-keys, a page at a time', () => {
  let h: ApiHarness;
  let operator: Client;
  beforeAll(async () => {
    h = await startApiHarness();
    operator = client(h.baseUrl, h.operatorKey);
  });
  afterAll(() => h?.close());

  /** A tenant with `count` keys in all (its first issued by the operator), all of them in the read model. */
  const tenantWithKeys = async (count: number) => {
    const tenant = await newTenant(operator);
    const me = client(h.baseUrl, tenant.key);
    const keyIds = [tenant.keyId];
    let position = tenant.position;
    for (let i = 1; i < count; i++) {
      const issued = ok(await me.post<{ keyId: string; position: string }>('/api-keys', { label: `k${i}` }), 201);
      keyIds.push(issued.keyId);
      position = issued.position;
    }
    ok(await me.get(`/api-keys?minPosition=${position}`), 200);
    return { ...tenant, me, keyIds };
  };

  /** Follows `next` from `cursor` (or the first page) to the end. */
  const pagesFrom = async (me: Client, limit: number, cursor: string | null = null, first: KeyPage[] = []) => {
    const pages = [...first];
    do {
      const page = ok(await me.get<KeyPage>(`/api-keys?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`), 200);
      pages.push(page);
      cursor = page.next;
    } while (cursor !== null && pages.length < 50);
    return pages;
  };

  it('limit=2 over 5 keys: pages of 2, 2 and 1, each key once, oldest first, the last next null; no secret or hash', async () => {
    const { me, keyIds } = await tenantWithKeys(5);
    const pages = await pagesFrom(me, 2);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.next === null)).toEqual([false, false, true]);
    const listed = pages.flatMap((p) => p.items);
    expect(listed.map((k) => k.keyId).sort()).toEqual([...keyIds].sort());
    expect(listed).toEqual([...listed].sort(byCreatedThenId));
    for (const key of listed) expect(Object.keys(key).sort()).toEqual(['createdAt', 'keyId', 'label', 'revokedAt', 'scope']);
    expect(JSON.stringify(listed)).not.toMatch(/hash|secret|ocs_/);
    // the default page holds them all, in the same order
    const all = ok(await me.get<KeyPage>('/api-keys'), 200);
    expect([all.items, all.next]).toEqual([listed, null]);
  });

  it('keys issued and revoked while a client pages through: none skipped or repeated; a revoked key stays listed with revokedAt', async () => {
    const { me, keyIds, keyId: own } = await tenantWithKeys(5);
    const first = ok(await me.get<KeyPage>('/api-keys?limit=2'), 200);
    expect(first.items.map((k) => k.revokedAt)).toEqual([null, null]);
    // one key already listed and one not yet, neither the key this client reads with
    const seen = first.items.find((k) => k.keyId !== own)!.keyId;
    const ahead = keyIds.find((id) => id !== own && !first.items.some((k) => k.keyId === id))!;
    ok(await me.delete(`/api-keys/${seen}`), 200);
    ok(await me.delete(`/api-keys/${ahead}`), 200);
    const added = ok(await me.post<{ keyId: string; position: string }>('/api-keys', { label: 'added' }), 201);
    ok(await me.get(`/api-keys?minPosition=${added.position}`), 200);

    const listed = (await pagesFrom(me, 2, first.next, [first])).flatMap((p) => p.items);
    expect(listed.map((k) => k.keyId).sort()).toEqual([...keyIds, added.keyId].sort());
    expect(listed.find((k) => k.keyId === ahead)?.revokedAt).toEqual(expect.any(String));
    const now = ok(await me.get<KeyPage>('/api-keys?limit=100'), 200).items;
    expect(now.map((k) => k.keyId)).toEqual(listed.map((k) => k.keyId));
    expect(now.filter((k) => k.revokedAt !== null).map((k) => k.keyId).sort()).toEqual([seen, ahead].sort());
  });

  it('a bad limit or a forged cursor is 400, the same problem the other lists answer', async () => {
    const { me } = await tenantWithKeys(3);
    for (const q of ['limit=0', 'limit=1000', 'limit=abc', 'limit=1&limit=2']) {
      const keys = await me.get(`/api-keys?${q}`);
      expect([q, keys.status, keys.body.code]).toEqual([q, 400, 'invalid_query']);
      expect(problemOf(keys)).toEqual(problemOf(await me.get(`/conversations?${q}`)));
    }
    const ofConversations = problemOf(await me.get('/conversations?cursor=not-a-cursor!'));
    expect(ofConversations[0]).toBe(400);
    const forged = [
      'not-a-cursor!',
      '%%%',
      b64('5'), // a conversations cursor
      b64('-1'),
      b64('2026-01-01T00:00:00.000Z abcdefabcdef'), // milliseconds only
      b64('2026-01-01T00:00:00.000000Z'), // no key id
      b64('2026-02-30T00:00:00.000000Z abcdefabcdef'),
      b64('2026-01-01T24:00:00.000000Z abcdefabcdef'),
      b64('0000-01-01T00:00:00.000000Z abcdefabcdef'),
      b64('2026-01-01T00:00:00.000000Z with space'),
    ];
    for (const cursor of forged) {
      const reply = await me.get(`/api-keys?limit=2&cursor=${encodeURIComponent(cursor)}`);
      expect([cursor, reply.status, reply.body.code]).toEqual([cursor, 400, 'invalid_cursor']);
      expect(problemOf(reply)).toEqual(ofConversations);
    }
  });

  it("another tenant's keys never appear, page by page, nor from that tenant's own cursor", async () => {
    const b = await tenantWithKeys(3);
    const a = await tenantWithKeys(3);
    const listed = (await pagesFrom(a.me, 1)).flatMap((p) => p.items.map((k) => k.keyId));
    expect([...listed].sort()).toEqual([...a.keyIds].sort());
    // B's first key is older than all of A's: from B's cursor, A reads its own keys and only those
    const theirs = ok(await b.me.get<KeyPage>('/api-keys?limit=1'), 200);
    const fromTheirCursor = (await pagesFrom(a.me, 1, theirs.next)).flatMap((p) => p.items.map((k) => k.keyId));
    expect(fromTheirCursor).toEqual(listed);
    for (const id of b.keyIds) expect([...listed, ...fromTheirCursor]).not.toContain(id);
  });
});
