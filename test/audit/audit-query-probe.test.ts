import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';

describe('probe: audit query params', () => {
  let h: ApiHarness;
  let auditorKey: string;
  beforeAll(async () => {
    h = await startApiHarness();
    const operator = client(h.baseUrl, h.operatorKey);
    const t = await newTenant(operator, 'pro');
    const me = client(h.baseUrl, t.key);
    auditorKey = ok(await me.post<{ key: string }>('/api-keys', { label: 'auditor', scope: 'auditor' }), 201).key;
  });
  afterAll(async () => h?.close());

  const get = async (path: string) => {
    const res = await fetch(`${h.baseUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${auditorKey}` } });
    return { status: res.status, text: (await res.text()).slice(0, 300) };
  };
  it('probe', async () => {
    const out: string[] = [];
    await new Promise((r) => setTimeout(r, 500));
    for (const q of [
      '/audit/events?from=999999999999999999999999999999',
      '/audit/events?to=999999999999999999999999999999',
      '/audit/events?from=9223372036854775808',
      '/audit/events?from=0',
      '/audit/events?from=5&to=2',
      '/audit/events?from=1e5', '/audit/events?from=', '/audit/events?from=1&from=2', '/audit/events?from[a]=1',
      '/audit/state?asOf=999999999999999999999999999999',
      '/audit/state?asOf=0',
      '/audit/state?asOf=2026-02-29T00:00:00Z',
      '/audit/state?asOf=0000-01-01T00:00:00Z',
      '/audit/state?asOf=9999-12-31T23:59:59-23:59',
      '/audit/state?asOf=2026-01-01T00:00:00.123456789Z',
      '/audit/state?asOf=2026-01-01T00:00:00',
      '/audit/state?asOf=',
      '/audit/state?asOf=-1',
      '/audit/state?asOf=1&asOf=2',
      '/audit/state?tenantId=../x',
      '/audit/digest?tenantId=nope',
    ]) {
      const r = await get(q);
      out.push(`${r.status} ${q} ${r.text.slice(0, 160)}`);
    }
    for (const q of ['/audit/events', '/audit/digest', '/audit/state', '/audit/events?tenantId=nope']) {
      const res = await fetch(`${h.baseUrl}/api/v1${q}`, { headers: { authorization: `Bearer ${h.operatorKey}` } });
      out.push(`${res.status} operator ${q} ${(await res.text()).slice(0, 160)}`);
    }
    if (out.some((l) => l.startsWith('5'))) console.log(out.join('\n'));
    expect(out.some((l) => l.startsWith('5'))).toBe(false);
  });
});
