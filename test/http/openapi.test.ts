import type { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../../adapters/http/openapi.ts';
import { KNIGHT_CPUS, KNIGHT_RAM_GB } from '../../domain/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every (method, path) express actually registered on a router. */
const registered = (router: Router): string[] =>
  (router.stack as Layer[]).flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${openApiPath(layer.route!.path)}`) : [],
  );

describe('OpenAPI 3.1 document', () => {
  let api: ApiHarness;
  let doc: { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name: string; in: string }[]; 'x-scopes'?: string[] }>> };
  beforeAll(async () => {
    api = await startApiHarness();
    const res = await fetch(`${api.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as typeof doc;
  });
  afterAll(() => api?.close());

  const documented = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((k) => ['get', 'post', 'delete', 'put', 'patch'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`),
    );

  it('is OpenAPI 3.1 served at /openapi.json with the API under /api/v1', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
  });

  it('documents every route express registered, and nothing it did not', () => {
    const routes = [...registered(api.platform.api.router), ...registered(api.platform.api.publicRouter)];
    expect(routes.length).toBeGreaterThan(20);
    expect(new Set(routes).size).toBe(routes.length);
    expect(documented().sort()).toEqual([...routes].sort());
  });

  it('describes request bodies and parameters from the zod schemas', () => {
    const knights = doc.paths['/knights']!.post!;
    expect(JSON.stringify(knights.requestBody)).toContain('"task"');
    expect(knights['x-scopes']).toEqual(['tenant']);
    const messages = doc.paths['/conversations/{conversationId}/messages']!.get!;
    expect(messages.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(['path:conversationId', 'query:limit', 'query:cursor', 'query:minPosition', 'query:order', 'query:before']);
    for (const list of ['/conversations', '/knights', '/api-keys', '/tenants'])
      expect([list, doc.paths[list]!.get!.parameters!.map((p) => `${p.in}:${p.name}`)]).toEqual([list, ['query:limit', 'query:cursor', 'query:minPosition']]);
    expect(JSON.stringify(doc.paths['/tenants']!.post!.requestBody)).toContain('"slug"');
  });

  it('a knight’s cpu and ramGb are documented as the values the API accepts, not any integer', () => {
    const body = doc.paths['/knights']!.post!.requestBody as { content: Record<string, { schema: { properties: Record<string, { enum?: number[] }> } }> };
    const { cpu, ramGb } = body.content['application/json']!.schema.properties;
    expect(cpu!.enum).toEqual([...KNIGHT_CPUS]);
    expect(ramGb!.enum).toEqual([...KNIGHT_RAM_GB]);
  });

  it('a request body is required exactly where the API refuses a POST without one', async () => {
    const bare = await fetch(`${api.baseUrl}/api/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${api.operatorKey}` } });
    expect(bare.status).toBe(400);
    const required = (path: string) => (doc.paths[path]!.post!.requestBody as { required: boolean }).required;
    for (const path of ['/knights', '/api-keys', '/tenants', '/conversations/{conversationId}/messages', '/tenants/{tenantId}/suspend', '/tenants/{tenantId}/tier'])
      expect([path, required(path)]).toEqual([path, true]);
    for (const path of ['/conversations', '/conversations/{conversationId}/close', '/tenants/me/agent-vm', '/tenants/{tenantId}/reinstate'])
      expect([path, required(path)]).toEqual([path, false]);
  });

  it('documents 503 (the database or the computers out of reach, retry after Retry-After) on every API operation', () => {
    const operations = Object.entries(doc.paths).filter(([path]) => !path.startsWith('/.well-known') && path !== '/openapi.json');
    for (const [path, item] of operations)
      for (const [method, op] of Object.entries(item as Record<string, { responses?: Record<string, unknown> }>))
        if (op.responses) expect([method, path, Object.keys(op.responses)]).toEqual([method, path, expect.arrayContaining(['503'])]);
  });

  it('documents the Idempotency-Key header as the API checks it: 1–200 visible ASCII characters', () => {
    const header = (doc.paths['/knights']!.post!.parameters as unknown as { name: string; schema: { pattern?: string; minLength?: number } }[]).find((p) => p.name === 'Idempotency-Key')!;
    const pattern = new RegExp(header.schema.pattern!);
    expect(['k-1', 'x'.repeat(200)].map((k) => pattern.test(k))).toEqual([true, true]);
    expect(['has space', 'tab\there', '', 'x'.repeat(201)].map((k) => pattern.test(k))).toEqual([false, false, false, false]);
  });

  it('publishes a JWK set (empty for the default HS256: a shared secret is never published)', async () => {
    const res = await fetch(`${api.baseUrl}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ keys: [] });
  });
});
