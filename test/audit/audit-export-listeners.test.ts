import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { newEvent } from '../support/ids.ts';
import { untilVisible } from '../support/gate.ts';

let h: ApiHarness;
let auditorKey: string;
let tenantId: string;
beforeAll(async () => {
  h = await startApiHarness();
  const operator = client(h.baseUrl, h.operatorKey);
  const t = await newTenant(operator, 'pro');
  tenantId = t.tenantId;
  auditorKey = ok(await client(h.baseUrl, t.key).post<{ key: string }>('/api-keys', { label: 'auditor', scope: 'auditor' }), 201).key;
}, 60_000);
afterAll(async () => h?.close());

it('a long export to a client that reads slower than the log is read does not pile up close listeners on the response', async () => {
  let last = 0n;
  for (let b = 0; b < 6; b++) {
    const r = await h.storage.store.append(`billing-${tenantId}`, Array.from({ length: 8_000 }, (_, i) => newEvent(tenantId, 'ReviewFiller.v1', { i, pad: 'x'.repeat(200) })), b === 0 ? 'no_stream' : b * 8_000 - 1);
    last = r.position;
  }
  await untilVisible(h.storage.store, last);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const res = await fetch(`${h.baseUrl}/api/v1/audit/events`, { headers: { authorization: `Bearer ${auditorKey}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      await new Promise((r) => setTimeout(r, 2)); // a slow client
    }
    expect(bytes).toBeGreaterThan(48_000 * 200);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
}, 120_000);
