import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ROUTES } from '../../../adapters/http/routes/index.ts';
import type { ApiRoute } from '../../../adapters/http/routes/index.ts';
import { client, ok } from './client.ts';
import { newTenant } from './journey.ts';
import type { StartedApi } from './journey.ts';

const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 220 });
const nasty = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'binary-ascii', maxLength: 50 }),
  fc.constantFrom('', ' ', '\u0000', 'x'.repeat(5_000), '__proto__', 'constructor', '1e400', '-0'),
  fc.integer(),
  fc.double(),
  fc.bigInt().map(String),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
);

type JsonSchema = { type?: string; enum?: unknown[]; anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema> };

/** A value the schema would likely accept, so that fuzzing also reaches the commands behind validation. */
const plausible = (schema: JsonSchema): fc.Arbitrary<unknown> => {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(plausible));
  if (schema.type === 'string') return fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
  if (schema.type === 'integer') return fc.oneof(fc.constantFrom(1, 2, 4, 8, 16, 32, 64), fc.integer());
  if (schema.type === 'null') return fc.constant(null);
  return nasty;
};

/** Bodies shaped like the route's zod schema: each field plausible or anything, sometimes with extra fields. */
const derivedBodies = (schema: z.ZodType | undefined) => {
  const json = schema ? (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema) : {};
  const fields = Object.entries(json.properties ?? {});
  const known = fields.length
    ? fc.record(Object.fromEntries(fields.map(([k, f]) => [k, fc.oneof({ weight: 3, arbitrary: plausible(f) }, { weight: 1, arbitrary: nasty })])), { requiredKeys: [] })
    : fc.constant({});
  const extra = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 2 }) });
  return fc.tuple(known, extra).map(([a, b]) => JSON.stringify({ ...b, ...a }));
};

const bodies = (route: ApiRoute) =>
  fc.oneof(
    { weight: 4, arbitrary: derivedBodies(route.body) },
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom('{', '[', '{"a":1,}', '\ufeff{}', '{"__proto__":{"x":1}}', 'nul', '1'.repeat(400)),
  );
const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  fc.constantFrom('application/json; charset=latin1', 'application/merge-patch+json', 'text/plain', 'application/json; charset=utf-16'),
);

/** Random and zod-derived malformed bodies, headers and query strings for every route: never a 5xx. */
export const fuzzSpecs = (name: string, start: () => Promise<StartedApi>, runs = { tenant: 40, operator: 25 }) =>
  describe(`HTTP API fuzz (${name}): no input makes a 5xx`, () => {
    let api: StartedApi;
    const ids = { tenantId: '', conversationId: '', knightId: '', keyId: '' };
    let tenantKey = '';
    beforeAll(async () => {
      api = await start();
      const operator = client(api.baseUrl, api.operatorKey);
      const mine = await newTenant(operator, 'enterprise');
      const victim = await newTenant(operator, 'enterprise');
      tenantKey = mine.key;
      const me = client(api.baseUrl, mine.key);
      ids.tenantId = victim.tenantId;
      ids.keyId = victim.keyId;
      ids.conversationId = ok(await me.post<{ conversationId: string }>('/conversations', {}), 201).conversationId;
      ids.knightId = ok(await me.post<{ knightId: string }>('/knights', { task: 'fuzz' }), 202).knightId;
    });
    afterAll(() => api?.close());

    const pathOf = (route: ApiRoute) => route.path.replace(/:([A-Za-z]+)/g, (_m, p: keyof typeof ids) => ids[p]);
    const credentialOf = (route: ApiRoute) => (route.scopes.includes('operator') && route.tenant !== 'none' ? api.operatorKey : route.path === '/tenants' ? api.operatorKey : tenantKey);

    for (const route of API_ROUTES.filter((r) => r.method === 'post')) {
      const isOperator = route.scopes.length === 1 && route.scopes[0] === 'operator';
      it(`POST ${route.path}`, async () => {
        await fc.assert(
          fc.asyncProperty(bodies(route), contentTypes, fc.option(printable), fc.option(printable), async (body, type, idem, requestId) => {
            const res = await fetch(`${api.baseUrl}/api/v1${pathOf(route)}`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${credentialOf(route)}`,
                'content-type': type,
                ...(idem !== null ? { 'idempotency-key': idem } : {}),
                ...(requestId !== null ? { 'x-request-id': requestId } : {}),
              },
              body,
            });
            const text = await res.text();
            expect(res.status, `${res.status} for ${body.slice(0, 200)}: ${text.slice(0, 300)}`).toBeLessThan(500);
          }),
          { numRuns: isOperator ? runs.operator : runs.tenant },
        );
      });
    }

    it('GET query strings and DELETE paths', async () => {
      const gets = API_ROUTES.filter((r) => r.method === 'get' && r.tenant === 'credential');
      const queryValue = fc.oneof(printable, fc.constantFrom('0', '101', '-1', '1e3', '99999999999999999999999999999999', '%', '%00'));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...gets), fc.dictionary(fc.constantFrom('limit', 'cursor', 'minPosition', 'x'), queryValue, { maxKeys: 3 }), fc.option(printable), async (route, query, id) => {
          const path = id === null ? pathOf(route) : route.path.replace(/:([A-Za-z]+)/g, () => encodeURIComponent(id));
          const res = await fetch(`${api.baseUrl}/api/v1${path}?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${tenantKey}` } });
          expect(res.status, `${path} ${JSON.stringify(query)}: ${(await res.text()).slice(0, 300)}`).toBeLessThan(500);
        }),
        { numRuns: runs.tenant * 2 },
      );
    });
  });
