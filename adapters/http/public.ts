import express from 'express';
import type { Router } from 'express';
import { PUBLIC_PATHS } from './openapi.ts';

/** Unauthenticated documents: the OpenAPI description and the JWK set (public keys only; empty for HS256). */
export const createPublicRouter = (deps: { openapi: () => object; jwks: () => { keys: object[] } | null }): Router => {
  const router = express.Router();
  const openapi = JSON.stringify(deps.openapi());
  router.get(PUBLIC_PATHS.openapi, (_req, res) => {
    res.type('application/json').send(openapi);
  });
  router.get(PUBLIC_PATHS.jwks, (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/jwk-set+json').send(JSON.stringify(deps.jwks() ?? { keys: [] }));
  });
  return router;
};
