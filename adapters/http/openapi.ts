import { z } from 'zod';
import { IDEMPOTENCY_KEY } from './request-context.ts';
import type { ApiRoute } from './routes/index.ts';

export const API_BASE_PATH = '/api/v1';

/** Public, unauthenticated paths served beside the API (absolute, not under /api/v1). */
export const PUBLIC_PATHS = {
  openapi: '/openapi.json',
  jwks: '/.well-known/jwks.json',
} as const;

const jsonSchema = (schema: z.ZodType): Record<string, unknown> => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  return rest;
};

/** Express `:name` segments as OpenAPI `{name}` templates. */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const parameters = (where: 'path' | 'query', schema: z.ZodType | undefined) => {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    in: where,
    required: where === 'path' || !field.safeParse(undefined).success,
    schema: jsonSchema(field),
  }));
};

const problemRef = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Invalid request (see `errors`)',
  '401': 'Missing, invalid, expired or revoked credential',
  '403': 'Insufficient scope, suspended tenant, or a tier quota reached',
  '404': 'Not found (also for another tenant’s objects)',
  '409': 'Conflicts with current state, or an Idempotency-Key reused for another request',
  '429': 'Rate limited: see Retry-After',
  '503': 'The database (or, for a screenshot, the computers) is out of reach: retry after Retry-After',
};

const operation = (route: ApiRoute) => ({
  operationId: `${route.method}${openApiPath(route.path).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
  summary: route.summary,
  tags: [route.tag],
  description: `Scopes: ${route.scopes.join(', ')}.`,
  'x-scopes': [...route.scopes],
  security: [{ bearer: [] }, { apiKey: [] }],
  parameters: [
    ...parameters('path', route.params),
    ...parameters('query', route.query),
    ...(route.method === 'get' ? [] : [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source } }]),
  ],
  ...(route.method === 'post' && route.body
    ? // a POST without a body is parsed as {}: the body is required when {} is not a valid one
      { requestBody: { required: !route.body.safeParse({}).success, content: { 'application/json': { schema: jsonSchema(route.body) } } } }
    : {}),
  responses: {
    [String(route.status)]: { description: 'Success', content: { [route.produces ?? 'application/json']: { schema: route.produces ? { type: 'string' } : { type: 'object' } } } },
    ...Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([status, text]) => [status, problemRef(text)])),
    ...(route.method === 'post' ? { '413': problemRef('Body over 1 MiB'), '415': problemRef('Body is not application/json') } : {}),
  },
});

/** OpenAPI 3.1 from the route table and the commands' zod schemas: one source for router and document. */
export const buildOpenApi = (routes: readonly ApiRoute[], info: { title?: string; version?: string } = {}) => {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  const root = [{ url: '/' }];
  paths[PUBLIC_PATHS.openapi] = { servers: root, get: { operationId: 'getOpenApi', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } };
  paths[PUBLIC_PATHS.jwks] = {
    servers: root,
    get: { operationId: 'getJwks', summary: 'Public keys that verify bearer tokens (empty for HS256)', security: [], responses: { '200': { description: 'JWK set' } } },
  };
  return {
    openapi: '3.1.0',
    info: { title: info.title ?? 'OpenClaw Service API', version: info.version ?? '1' },
    servers: [{ url: API_BASE_PATH }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /auth/token, or an API key (ocs_…)' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            requestId: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
  };
};
