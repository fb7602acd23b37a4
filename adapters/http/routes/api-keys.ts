import { z } from 'zod';
import { apiKeyIdFrom, issueApiKey, issueApiKeyInput, revokeApiKey } from '../../../commands/tenants/api-keys.ts';
import { defineRoute, keyIdParam, pagedQuery, positioned, tenantIdParam } from './route.ts';
import type { RouteContext, RouteReply } from './route.ts';

const tag = 'api-keys';

/** The key is in the answer once; a replayed Idempotency-Key answers the same keyId and `key: null`. */
const issue = async (ctx: RouteContext<unknown, unknown, z.output<typeof issueApiKeyInput>>): Promise<RouteReply> => {
  // a derived id makes an Idempotency-Key replay name the key it issued
  const result = await issueApiKey(ctx.deps.ports, ctx.caller(), ctx.tenantId, ctx.body, { keyId: apiKeyIdFrom(ctx.newId('api-key')) });
  return {
    body: { tenantId: ctx.tenantId, keyId: result.keyId, key: result.key, scope: ctx.body.scope, ...positioned(result) },
    duplicate: result.duplicate,
  };
};

export const apiKeyRoutes = [
  defineRoute({
    method: 'post', path: '/tenants/:tenantId/api-keys', tag, summary: 'Issue an API key for a tenant (the key is shown once)',
    scopes: ['operator'], tenant: 'path', params: z.object({ tenantId: tenantIdParam }), body: issueApiKeyInput, status: 201,
    handle: issue,
  }),
  defineRoute({
    method: 'post', path: '/api-keys', tag, summary: "Issue an API key for the caller's tenant (the key is shown once)",
    scopes: ['tenant'], tenant: 'credential', body: issueApiKeyInput, status: 201,
    handle: issue,
  }),
  defineRoute({
    method: 'get', path: '/api-keys', tag, summary: "The tenant's API keys, oldest first, revoked ones included (never their secrets or hashes)",
    scopes: ['tenant', 'auditor'], tenant: 'credential', query: pagedQuery, status: 200,
    handle: async ({ deps, tenantId, query }) => ({
      body: await deps.reads.forTenant(tenantId, (r) => r.apiKeys({ limit: query.limit, cursor: query.cursor })),
    }),
  }),
  defineRoute({
    method: 'delete', path: '/api-keys/:keyId', tag, summary: 'Revoke an API key; tokens made from it stop working',
    scopes: ['tenant'], tenant: 'credential', params: z.object({ keyId: keyIdParam }), status: 200,
    handle: async ({ deps, tenantId, caller, params }) => {
      const result = await revokeApiKey(deps.ports, caller(), tenantId, params.keyId);
      await deps.auth.markRevoked(params.keyId);
      return { body: { keyId: params.keyId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
];
