import { defineRoute, noBody } from './route.ts';

export const authRoutes = [
  defineRoute({
    method: 'post', path: '/auth/token', tag: 'auth',
    summary: 'Exchange an API key (Authorization: Bearer ocs_… or X-Api-Key) for a short-lived bearer token',
    scopes: ['operator', 'tenant', 'auditor'], tenant: 'none', body: noBody, status: 200,
    handle: async ({ deps, principal }) => ({ body: await deps.auth.issueToken(principal) }),
  }),
];
