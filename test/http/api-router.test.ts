import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, ok } from './support/client.ts';
import { apiJourneySpecs, newTenant } from './support/journey.ts';
import { startMemoryApi } from './support/memory-api.ts';

// The real router, auth, limits and commands over an in-memory event store and read side.
apiJourneySpecs('in-memory stack', () => startMemoryApi());

describe('read-your-writes and request metadata (in-memory stack)', () => {
  let api: Awaited<ReturnType<typeof startMemoryApi>>;
  beforeAll(async () => (api = await startMemoryApi()));
  afterAll(() => api.close());

  it('a read model behind minPosition still answers, with X-Read-Model-Lag and X-Read-Model-Position', async () => {
    const operator = client(api.baseUrl, api.operatorKey);
    const { key } = await newTenant(operator);
    const me = client(api.baseUrl, key);
    const before = ok(await me.post<{ position: string }>('/conversations', {}), 201).position;
    ok(await me.get(`/conversations?minPosition=${before}`), 200);
    api.readSide.lagging = true;
    try {
      const posted = ok(await me.post<{ position: string }>('/conversations', {}), 201);
      const reply = await me.get<{ items: unknown[] }>(`/conversations?minPosition=${posted.position}`);
      expect(reply.status).toBe(200);
      expect(reply.body.items).toHaveLength(1);
      expect(reply.headers.get('x-read-model-lag')).toBe('1');
      expect(reply.headers.get('x-read-model-position')).toBe(before);
    } finally {
      api.readSide.lagging = false;
    }
  });

  it('the request id becomes the correlation id; a valid traceparent is passed on, an invalid one dropped', async () => {
    const operator = client(api.baseUrl, api.operatorKey);
    const { key, keyId } = await newTenant(operator);
    const me = client(api.baseUrl, key);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const started = ok(await me.post<{ conversationId: string }>('/conversations', {}, { 'x-request-id': 'corr-1', traceparent }), 201);
    const event = api.events.find((e) => e.streamId.endsWith(`.${started.conversationId}`))!;
    expect(event.metadata).toMatchObject({ correlationId: 'corr-1', traceparent, actor: `apikey:${keyId}` });
    const other = ok(await me.post<{ conversationId: string }>('/conversations', {}, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }), 201);
    expect(api.events.find((e) => e.streamId.endsWith(`.${other.conversationId}`))!.metadata.traceparent).toBeUndefined();
  });

  it('bodies: not JSON is 415, malformed is 400, over 1 MiB is 413, unknown fields are 400 with paths', async () => {
    const { key } = await newTenant(client(api.baseUrl, api.operatorKey), 'pro');
    const me = client(api.baseUrl, key);
    expect((await me.call('POST', '/knights', 'task=x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await me.call('POST', '/knights', '{"task":')).body.code).toBe('malformed_json');
    expect((await me.post('/knights', { task: 'x'.repeat(1024 * 1024) })).status).toBe(413);
    const invalid = await me.post('/knights', { task: '', cpu: 3, extra: 1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: 'invalid_body' });
    expect((invalid.body.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['', 'cpu', 'task']);
  });
});
