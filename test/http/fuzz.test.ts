import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ROUTES } from '../../adapters/http/routes/index.ts';
import type { ApiRoute } from '../../adapters/http/routes/index.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';
import { client, ok } from './support/client.ts';
import type { Client } from './support/client.ts';
import { newTenant, slug, tokenFor } from './support/journey.ts';
import { startTelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { startWhatsAppDouble } from '../doubles/whatsapp-graph.ts';

// Fuzzing the real stack: never a 5xx, and a request answered 4xx never leaves an event behind.
// Known bug (reported, see the two `BUG:` cases at the end): a lone UTF-16 surrogate in a text field is a 500, so the
// POST properties of routes with free text fail until it is fixed. Deliberately not filtered out of the generators.

/** Not an HTTP status: a 400 in which the platform, not our validation, refused the body. */
const PLATFORM_REFUSED = 1400;
const RUNS = { tenantPost: 400, operatorPost: 200, get: 800, delete: 300 };

const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 120 });
const DANGEROUS_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'tenantId', 'tenant_id', 'role', 'scope', 'tier', 'actor', 'position', 'keyId', 'admin'];

/** JSON text fragments: valid values of every kind, extremes, and some that are not JSON at all. */
const jsonText = (v: unknown) => JSON.stringify(v) ?? 'null';
const nastyValue: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map(jsonText),
  fc.string({ unit: 'binary', maxLength: 200 }).map(jsonText),
  fc.constantFrom('', ' ', '\u0000', '\u0007bell', '\ud800', 'a\udfffb', 'x'.repeat(100_000), '\u{1F600}'.repeat(10_000), 'null', '__proto__').map(jsonText),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0.5, 2 ** 31, -(2 ** 63), 5e-324).map(jsonText),
  fc.integer().map(jsonText),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(jsonText),
  // Numbers JSON.parse accepts but JavaScript cannot hold, and things that are not JSON.
  fc.constantFrom('1e400', '-1e400', '1'.repeat(400), '0.' + '0'.repeat(400) + '1', 'NaN', 'Infinity', '0x10', "'single'", 'undefined', '{"__proto__":{"scope":"operator","tenantId":"x"}}', '{"constructor":{"prototype":{"admin":true}}}'),
);

type JsonSchema = { type?: string; enum?: unknown[]; anyOf?: JsonSchema[]; properties?: Record<string, JsonSchema>; maxLength?: number; pattern?: string };

/** A value the schema would likely accept, so that fuzzing also gets past validation into the commands and the store. */
const plausible = (schema: JsonSchema): fc.Arbitrary<string> => {
  if (schema.enum) return fc.constantFrom(...schema.enum).map(jsonText);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(plausible));
  if (schema.type === 'string' && schema.pattern)
    return fc.oneof({ weight: 4, arbitrary: fc.stringMatching(new RegExp(schema.pattern)).map(jsonText) }, fc.string({ maxLength: 50 }).map(jsonText));
  if (schema.type === 'string') {
    const max = schema.maxLength ?? 200;
    return fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(jsonText) },
      fc.constantFrom('x'.repeat(max), 'x'.repeat(max + 1), '   ', 'tab\tand\nnewline', 'nul\u0000', '\ud83d', 'a\u2028b', '\u202eevil').map(jsonText),
    );
  }
  if (schema.type === 'integer' || schema.type === 'number') return fc.oneof(fc.constantFrom(1, 2, 4, 8, 16, 32, 64), fc.integer()).map(jsonText);
  if (schema.type === 'null') return fc.constant('null');
  return nastyValue;
};

const objectText = (entries: readonly (readonly [string, string])[]) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

/** Objects shaped like the route's zod schema: each field plausible or anything, sometimes with dangerous or duplicate extra keys. */
const derivedBodies = (schema: z.ZodType | undefined): fc.Arbitrary<string> => {
  const json = schema ? (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema) : {};
  const fields = Object.entries(json.properties ?? {}).map(([k, f]) =>
    fc.option(fc.oneof({ weight: 4, arbitrary: plausible(f) }, { weight: 1, arbitrary: nastyValue }), { nil: undefined, freq: 4 }).map((v) => (v === undefined ? [] : [[k, v] as const])),
  );
  const known = fc.tuple(...fields, fc.constant([])).map((parts) => parts.flat());
  const extra = fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as (readonly [string, string])[]) },
    { weight: 2, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...DANGEROUS_KEYS), fc.string({ maxLength: 10 })), nastyValue), { minLength: 1, maxLength: 3 }) },
  );
  return fc.tuple(known, extra, fc.boolean()).map(([a, b, extrasFirst]) => objectText(extrasFirst ? [...b, ...a] : [...a, ...b]));
};

const bodies = (route: ApiRoute): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: derivedBodies(route.body) },
    fc.jsonValue({ maxDepth: 3 }).map(jsonText),
    nastyValue,
    fc.string({ unit: 'binary', maxLength: 200 }),
    derivedBodies(route.body).map((text) => text.slice(0, Math.max(1, Math.floor(text.length / 2)))), // truncated JSON
    fc.constantFrom('', ' ', '{', '[', '{"a":1,}', '\ufeff{}', 'nul', '{"a":1}{"b":2}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', `{"x":"${'y'.repeat(1024 * 1024)}"}`),
  );

const contentTypes = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json; charset=utf-16',
    'application/merge-patch+json', 'application/problem+json', 'text/plain', 'text/json', 'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x', 'application/octet-stream', '', 'application/json, text/plain', ';;;',
  ),
);

/** Ids for a path: mostly a real one, else another tenant's, an unknown one, or garbage (encoded as a client would, or not). */
const garbageId = fc.oneof(
  printable.filter((s) => s.length > 0).map(encodeURIComponent),
  fc.constantFrom('%00', '%2e%2e', '%E0%A4%A', '%FF', 'x'.repeat(65), 'a.b', '%20', '__proto__', 'constructor', '-', 'A', 'ZZZZZZZZZZZZ', '%2F', '1e400', '😀', '%F0%9F%98%80', 'null', 'undefined'),
);
const idOf = (real: string, others: readonly string[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(real) }, fc.constantFrom(...others), garbageId);

describe('HTTP API fuzz on the real stack: no input makes a 5xx, no refused request appends an event', () => {
  let h: ApiHarness;
  let pool: pg.Pool;
  let telegram: Awaited<ReturnType<typeof startTelegramDouble>> | undefined;
  let whatsapp: Awaited<ReturnType<typeof startWhatsAppDouble>> | undefined;
  const own = { tenantKey: '', tenantToken: '', conversationId: '', closableConversationId: '', knightId: '', spareKeyId: '' };
  const victim = { tenantId: '', conversationId: '', knightId: '', keyId: '' };
  const doomed = { tenantId: '' };
  const counts = { requests: 0, refused: 0, accepted: 0 };
  const byRoute = new Map<string, Map<number, number>>();

  const eventCount = async (): Promise<number> =>
    (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${h.schemas.events}.events`)).rows[0]!.n;

  beforeAll(async () => {
    // the connect routes call the platforms: loopback doubles stand in for Telegram and WhatsApp
    telegram = await startTelegramDouble();
    whatsapp = await startWhatsAppDouble();
    h = await startApiHarness({ OPERATOR_REQUESTS_PER_MINUTE: '100000', TELEGRAM_API_ROOT: telegram.apiRoot, WHATSAPP_GRAPH_URL: whatsapp.graphUrl });
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
    const operator = client(h.baseUrl, h.operatorKey);
    const mine = await newTenant(operator, 'enterprise');
    const theirs = await newTenant(operator, 'enterprise');
    doomed.tenantId = (await newTenant(operator, 'free')).tenantId;
    own.tenantKey = mine.key;
    own.tenantToken = await tokenFor(h.baseUrl, mine.key);
    const me = client(h.baseUrl, mine.key);
    const them = client(h.baseUrl, theirs.key);
    own.conversationId = ok(await me.post<{ conversationId: string }>('/conversations', {}), 201).conversationId;
    own.closableConversationId = ok(await me.post<{ conversationId: string }>('/conversations', {}), 201).conversationId;
    own.knightId = ok(await me.post<{ knightId: string }>('/knights', { task: 'fuzz' }), 202).knightId;
    own.spareKeyId = ok(await me.post<{ keyId: string }>('/api-keys', { label: 'spare' }), 201).keyId;
    victim.tenantId = theirs.tenantId;
    victim.keyId = theirs.keyId;
    victim.conversationId = ok(await them.post<{ conversationId: string }>('/conversations', {}), 201).conversationId;
    const last = ok(await them.post<{ knightId: string; position: string }>('/knights', { task: 'victim' }), 202);
    victim.knightId = last.knightId;
    ok(await them.get(`/knights?minPosition=${last.position}`), 200);
  });
  afterAll(async () => {
    console.info(
      `fuzz: ${counts.requests} requests, ${counts.refused} answered 4xx (none appended), ${counts.accepted} accepted\n` +
        [...byRoute].map(([route, statuses]) => `  ${route}: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`).join('\n'),
    );
    await pool?.end();
    await h?.close();
    await telegram?.close();
    await whatsapp?.close();
  });

  const isOperatorOnly = (route: ApiRoute) => route.scopes.length === 1 && route.scopes[0] === 'operator';

  /** The path with each parameter drawn from real, foreign, unknown and garbage ids. */
  const paths = (route: ApiRoute): fc.Arbitrary<string> => {
    const params = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
    const ids = params.map((param) => {
      switch (param) {
        case 'tenantId':
          return idOf(route.method === 'delete' ? doomed.tenantId : victim.tenantId, [slug('nobody'), 'operator', '*']);
        case 'conversationId':
          return idOf(route.path.endsWith('/close') ? own.closableConversationId : own.conversationId, [victim.conversationId, randomUUID()]);
        case 'knightId':
          return idOf(own.knightId, [victim.knightId, randomUUID()]);
        case 'keyId':
          return idOf(own.spareKeyId, [victim.keyId, 'zzzzzzzzzzzz']);
        default:
          throw new Error(`no ids for :${param} in ${route.path}`);
      }
    });
    return fc.tuple(...ids, fc.constant('')).map((values) => params.reduce((path, param, i) => path.replace(`:${param}`, values[i]!), route.path));
  };

  const credentials = (route: ApiRoute): fc.Arbitrary<string> => {
    if (isOperatorOnly(route)) return fc.constant(h.operatorKey);
    if (route.path === '/auth/token') return fc.constantFrom(own.tenantKey, h.operatorKey);
    return fc.constantFrom(own.tenantKey, own.tenantToken);
  };

  /** Sends one request; fails on a 5xx, and on any event appended by a request answered 4xx. */
  const send = async (route: ApiRoute, path: string, credential: string, init: { headers?: Record<string, string>; body?: string } = {}) => {
    const method = route.method.toUpperCase();
    const before = await eventCount();
    const headers: Record<string, string> = { authorization: `Bearer ${credential}`, ...init.headers };
    const res = await fetch(`${h.baseUrl}/api/v1${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.text();
    const what = `${method} ${path} ${JSON.stringify(init.headers ?? {}).slice(0, 200)} ${(init.body ?? '').slice(0, 300)} → ${res.status} ${text.slice(0, 300)}`;
    counts.requests++;
    const tally = byRoute.get(`${method} ${route.path}`) ?? new Map<number, number>();
    byRoute.set(`${method} ${route.path}`, tally.set(res.status, (tally.get(res.status) ?? 0) + 1));
    expect(res.status, what).toBeLessThan(500);
    if (res.status >= 400) {
      counts.refused++;
      expect(await eventCount(), `appended although refused: ${what}`).toBe(before);
    } else counts.accepted++;
    // a connect refused by the channel adapter or the platform (a token the Telegram or WhatsApp double does not know) got past validation too
    return res.status === 400 && /"code":"(telegram|whatsapp)_[a-z_]+"/.test(text) ? PLATFORM_REFUSED : res.status;
  };

  for (const route of API_ROUTES.filter((r) => r.method === 'post')) {
    it(`POST ${route.path}`, async () => {
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(
          paths(route), credentials(route), bodies(route), contentTypes, fc.option(printable), fc.option(printable),
          async (path, credential, body, type, idem, requestId) => {
            statuses.add(
              await send(route, path, credential, {
                headers: {
                  ...(type ? { 'content-type': type } : {}),
                  ...(idem !== null ? { 'idempotency-key': idem } : {}),
                  ...(requestId !== null ? { 'x-request-id': requestId } : {}),
                },
                body,
              }),
            );
          },
        ),
        { numRuns: isOperatorOnly(route) ? RUNS.operatorPost : RUNS.tenantPost },
      );
      // The fuzzer got past validation at least once: bodies reached the command behind it.
      expect([...statuses].some((s) => s < 300) || [...statuses].some((s) => s === 403 || s === 404 || s === 409 || s === PLATFORM_REFUSED), `${route.path}: ${[...statuses]}`).toBe(true);
    });
  }

  const queryValue = fc.oneof(
    printable,
    fc.constantFrom('0', '1', '100', '101', '-1', '1e3', '1.5', ' 1', '0x10', '99999999999999999999999999999999', '%', '%00', '', 'null', 'eyJ4Ijox', 'MQ', '_-_-', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
  );
  // A huge valid minPosition would wait 2 s for nothing; everything else about minPosition is fair game.
  const noLongWait = (q: Record<string, string>) => !/^\d{15,30}$/.test(q.minPosition ?? '');

  it('GET: paging and freshness params, bad ids in paths', async () => {
    const gets = API_ROUTES.filter((r) => r.method === 'get');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...gets).chain((route) => fc.tuple(fc.constant(route), paths(route))),
        fc.dictionary(fc.constantFrom('limit', 'cursor', 'minPosition', 'x', '__proto__', 'constructor', 'tenantId', 'limit[]', 'cursor[a]'), queryValue, { maxKeys: 4 }).filter(noLongWait),
        fc.boolean(),
        async ([route, path], query, useToken) => {
          const credential = isOperatorOnly(route) ? h.operatorKey : useToken ? own.tenantToken : own.tenantKey;
          await send(route, `${path}?${new URLSearchParams(query)}`, credential);
        },
      ),
      { numRuns: RUNS.get },
    );
  });

  it('DELETE: real, foreign, unknown and garbage ids', async () => {
    const deletes = API_ROUTES.filter((r) => r.method === 'delete');
    expect(deletes.length).toBeGreaterThanOrEqual(3);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...deletes).chain((route) => fc.tuple(fc.constant(route), paths(route))),
        fc.option(printable),
        async ([route, path], idem) => {
          const credential = isOperatorOnly(route) ? h.operatorKey : own.tenantKey;
          await send(route, path, credential, idem === null ? {} : { headers: { 'idempotency-key': idem } });
        },
      ),
      { numRuns: RUNS.delete },
    );
  });

  // Known bug (reported): a lone UTF-16 surrogate is valid JSON (`"\\ud83d"`) and passes every zod text check, but
  // PostgreSQL refuses it in jsonb (22P02), the append fails and the API answers 500. `.fails` until fixed.
  const LONE_SURROGATE = '\\ud83d';
  it('a lone UTF-16 surrogate in any free-text field is a 400 and appends nothing', async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const { tenantId, key } = await newTenant(operator, 'enterprise');
    const me = client(h.baseUrl, key);
    const conversationId = ok(await me.post<{ conversationId: string }>('/conversations', {}), 201).conversationId;
    const cases: [Client, string, string][] = [
      [operator, '/tenants', `{"slug":"${slug('s')}","name":"${LONE_SURROGATE}"}`],
      [operator, `/tenants/${tenantId}/suspend`, `{"reason":"${LONE_SURROGATE}"}`],
      [operator, `/tenants/${tenantId}/api-keys`, `{"label":"${LONE_SURROGATE}"}`],
      [me, '/api-keys', `{"label":"${LONE_SURROGATE}"}`],
      [me, '/conversations', `{"title":"${LONE_SURROGATE}"}`],
      [me, `/conversations/${conversationId}/messages`, `{"text":"${LONE_SURROGATE}"}`],
      [me, `/conversations/${conversationId}/close`, `{"reason":"${LONE_SURROGATE}"}`],
      [me, '/knights', `{"task":"${LONE_SURROGATE}"}`],
    ];
    const answers: string[] = [];
    for (const [who, path, body] of cases) {
      const before = await eventCount();
      const reply = await who.call('POST', path, body);
      answers.push(`POST ${path} ${body} → ${reply.status === 400 ? 400 : `${reply.status} ${String(reply.body.code)}`}, appended ${(await eventCount()) - before}`);
    }
    expect(answers).toEqual(cases.map(([, path, body]) => `POST ${path} ${body} → 400, appended 0`));
  });

  it("one tenant's refused request does not fail other tenants' requests written at the same moment", async () => {
    const operator = client(h.baseUrl, h.operatorKey);
    const bad = client(h.baseUrl, (await newTenant(operator, 'enterprise')).key);
    const good = client(h.baseUrl, (await newTenant(operator, 'enterprise')).key);
    const failedNeighbours: number[] = [];
    for (let round = 0; round < 5; round++) {
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          i === 20 ? bad.call('POST', '/conversations', `{"title":"${LONE_SURROGATE}"}`) : good.post('/conversations', { title: `neighbour ${round}.${i}` }),
        ),
      );
      failedNeighbours.push(replies.filter((r, i) => i !== 20 && r.status !== 201).length);
    }
    expect(failedNeighbours).toEqual([0, 0, 0, 0, 0]);
  });
});
