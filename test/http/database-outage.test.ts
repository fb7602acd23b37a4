import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/logger.ts';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { client } from './support/client.ts';
import { newTenant } from './support/journey.ts';

// The database going away is a 503 the client may retry, on reads as on writes,
// and its answer does not describe the inside (addresses, driver messages).
describe('the API while PostgreSQL is unreachable', () => {
  const schemas = { events: uniqueSchema('out_ev'), readModels: uniqueSchema('out_rm') };
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let stack: Stack;
  beforeAll(async () => {
    const url = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    stack = await startStack({
      databaseUrl: url.toString(),
      schemas,
      log: createLogger('silent'),
      env: { JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long' },
      poolSize: 4,
    });
  });
  afterAll(async () => {
    proxy.restore();
    await stack?.close();
    await proxy.close();
    await dropSchema(schemas.events);
    await dropSchema(schemas.readModels);
  });

  // Also seen here: an uncaught "Connection terminated unexpectedly" from a checked-out pg client
  // without an 'error' listener (adapters/event-store/postgres.ts inTransaction) — a crash in production.
  it('a read answers 503 + Retry-After like a write, and neither answer quotes the driver', async () => {
    const { key } = await newTenant(client(stack.baseUrl, stack.operatorKey));
    const me = client(stack.baseUrl, key);
    expect((await me.get('/conversations')).status).toBe(200); // the key record is now cached (5 s)
    proxy.cut();
    const read = await me.get('/conversations');
    const write = await me.post('/conversations', {});
    const seen = [read, write].map((r) => [r.status, r.headers.get('retry-after'), String(r.body.detail)]);
    expect(seen.map(([status, retryAfter]) => [status, retryAfter])).toEqual([[503, '1'], [503, '1']]);
    for (const [, , detail] of seen) expect(detail).not.toMatch(/127\.0\.0\.1|ECONN|terminated/);
  }, 30_000);
});
