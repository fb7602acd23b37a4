import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyFile } from '../../adapters/audit/check.ts';
import { toEvent } from '../../adapters/audit/lines.ts';
import { createChainVerifier } from '../../adapters/audit/verify.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';

describe('the audit API: a tenant history with hashes, its digest, its state as of a point', () => {
  let h: ApiHarness;
  let tenantId: string;
  let auditorKey: string;
  let otherAuditorKey: string;
  let tierChange: bigint;
  const ndjson = async (key: string, query = '') => {
    const res = await fetch(`${h.baseUrl}/api/v1/audit/events${query}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), text, lines: text.split('\n').filter(Boolean) };
  };

  beforeAll(async () => {
    h = await startApiHarness();
    const operator = client(h.baseUrl, h.operatorKey);
    const t = await newTenant(operator, 'pro');
    tenantId = t.tenantId;
    const me = client(h.baseUrl, t.key);
    auditorKey = ok(await me.post<{ key: string }>('/api-keys', { label: 'auditor', scope: 'auditor' }), 201).key;
    const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: 'Quarterly plan' }), 201);
    ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'the secret plan' }), 201);
    tierChange = BigInt(ok(await operator.post<{ position: string }>(`/tenants/${tenantId}/tier`, { tier: 'enterprise' }), 200).position);
    const other = await newTenant(operator, 'free', 'auditor');
    otherAuditorKey = other.key;
  });
  afterAll(async () => h?.close());

  it("streams the tenant's events in log order as NDJSON, data as stored (ciphertext), every chain verifying", async () => {
    const all = await ndjson(auditorKey);
    expect(all.status).toBe(200);
    expect(all.type).toMatch(/^application\/x-ndjson/);
    const events = all.lines.map((line, i) => toEvent(JSON.parse(line), i + 1));
    expect(events.length).toBeGreaterThanOrEqual(6);
    expect(events.every((e) => e.metadata.tenantId === tenantId && /^[0-9a-f]{64}$/.test(e.hash ?? ''))).toBe(true);
    expect(new Set(events.map((e) => e.streamId.split('-')[0])).size).toBe(2); // tenant and conversation streams
    for (let i = 1; i < events.length; i++) expect(events[i]!.position > events[i - 1]!.position).toBe(true);
    expect(all.text).not.toContain('the secret plan');
    const verifier = createChainVerifier();
    events.forEach((e, i) => verifier.add(e, i + 1));
    expect(verifier.finish().break).toBeUndefined();

    // a ranged answer: the same lines, each stream's first one past revision 0 also naming its previous hash
    const withoutPrev = (lines: string[]) => lines.map((l) => l.replace(/,"prev":"[0-9a-f]{64}"/, ''));
    const resumed = await ndjson(auditorKey, `?from=${events[2]!.position + 1n}`);
    expect(withoutPrev(resumed.lines)).toEqual(all.lines.slice(3));
    expect(withoutPrev((await ndjson(auditorKey, `?from=${events[1]!.position}&to=${events[3]!.position}`)).lines)).toEqual(all.lines.slice(1, 4));
    const past = await ndjson(auditorKey, `?from=${events[events.length - 1]!.position + 1n}`);
    expect(past).toMatchObject({ status: 200, text: '' });
  });

  it('a ranged answer (from = P) verifies as delivered: each stream that starts mid-log is linked to the previous hash its first line names', async () => {
    const all = (await ndjson(auditorKey)).lines.map((line, i) => toEvent(JSON.parse(line), i + 1));
    // from the conversation's second event: the tenant stream and the conversation both start mid-log
    const conversation = all.find((e) => e.streamId.startsWith('conversation-'))!.streamId;
    const from = all.find((e) => e.streamId === conversation && e.revision === 1)!.position;
    const ranged = await ndjson(auditorKey, `?from=${from}`);
    const firsts = new Map<string, { revision: number; prev?: string }>();
    for (const line of ranged.lines) {
      const e = JSON.parse(line) as { streamId: string; revision: number; prev?: string };
      if (!firsts.has(e.streamId)) firsts.set(e.streamId, e);
    }
    expect(firsts.size).toBe(2);
    for (const [streamId, first] of firsts) {
      expect(first.revision).toBeGreaterThan(0);
      expect(first.prev).toBe(all.find((e) => e.streamId === streamId && e.revision === first.revision - 1)!.hash);
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'audit-api-'));
    try {
      const file = path.join(dir, 'ranged.ndjson');
      await writeFile(file, ranged.text);
      expect(await verifyFile(file)).toMatchObject({ events: ranged.lines.length, streams: 2, anchored: 2, unchecked: 0, break: undefined });
      // the body edited: the first line's content no longer links to its prev
      const edited = ranged.lines.map((l, i) => (i === 0 ? l.replace(/"metadata":\{/, '"metadata":{"forged":true,') : l));
      await writeFile(file, `${edited.join('\n')}\n`);
      expect((await verifyFile(file)).break).toMatchObject({ reason: 'hash_mismatch', line: 1 });
      // lines without prev (a stream's earlier events cut off): still missing, as before
      await writeFile(file, `${ranged.lines.map((l) => l.replace(/,"prev":"[0-9a-f]{64}"/, '')).join('\n')}\n`);
      expect((await verifyFile(file)).break).toMatchObject({ reason: 'missing_event' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers 404 for another tenant's history and 400 for a malformed position", async () => {
    const foreign = await ndjson(otherAuditorKey, `?tenantId=${tenantId}`);
    expect(foreign.status).toBe(404);
    expect(JSON.parse(foreign.text)).toMatchObject({ code: 'tenant_not_found' });
    expect((await client(h.baseUrl, otherAuditorKey).get(`/audit/state?tenantId=${tenantId}`)).status).toBe(404);
    expect(JSON.parse((await ndjson(auditorKey, '?from=-5')).text)).toMatchObject({ status: 400, code: 'invalid_query' });
  });

  it('folds the log to the state as of a position or a time; a future point gives the current state, said so', async () => {
    const auditor = client(h.baseUrl, auditorKey);
    const before = ok(await auditor.get<{ future: boolean; tenant: { tier: string; name: string }; conversations: Record<string, { title: string; messageCount: number }> }>(`/audit/state?asOf=${tierChange - 1n}`), 200);
    expect(before).toMatchObject({ future: false, tenant: { tier: 'pro', name: 'Acme' } });
    expect(Object.values(before.conversations)).toEqual([expect.objectContaining({ title: 'Quarterly plan', messageCount: 1 })]);
    expect(ok(await auditor.get(`/audit/state?asOf=${tierChange}`), 200)).toMatchObject({ future: false, tenant: { tier: 'enterprise' } });
    const future = ok(await auditor.get('/audit/state?asOf=2999-01-01T00:00:00Z'), 200);
    expect(future).toMatchObject({ future: true, tenant: { tier: 'enterprise' } });
    const beforeAll = ok(await auditor.get('/audit/state?asOf=2000-01-01T00:00:00Z'), 200);
    expect(beforeAll).toMatchObject({ future: false, events: 0, tenant: { status: 'none' }, conversations: {} });
    expect((await auditor.get('/audit/state?asOf=yesterday')).body).toMatchObject({ status: 400, code: 'invalid_query' });
  });

  it('gives the digest of a verified history', async () => {
    const reply = ok(await client(h.baseUrl, auditorKey).get<{ verified: boolean; digest: { tenantId: string; root: string; heads: unknown[] } }>('/audit/digest'), 200);
    expect(reply).toMatchObject({ verified: true, digest: { tenantId, root: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(reply.digest.heads).toHaveLength(2);
  });
});
