import express from 'express';
import { pino } from 'pino';
import { hashApiKeySecret, mintApiKey } from '../../commands/tenants/api-keys.ts';
import { createAuth } from '../../adapters/auth/index.ts';
import type { AuthDeps } from '../../adapters/auth/index.ts';
import type { Scope } from '../../adapters/auth/principal.ts';
import { principalOf } from '../../adapters/auth/authenticate.ts';
import { problemMiddleware } from '../../adapters/http/problem.ts';
import { requestContext } from '../../adapters/http/request-context.ts';
import type { ApiKeyRecord } from '../../projections/read-side.ts';

export const silent = pino({ level: 'silent' });
export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'openclaw-api-test';

/** The in-memory stand-in for `readSide.findApiKey`. */
export const keyStore = () => {
  const records = new Map<string, ApiKeyRecord>();
  let lookups = 0;
  return {
    add(tenantId: string, scope: 'tenant' | 'auditor' = 'tenant') {
      const minted = mintApiKey();
      records.set(minted.keyId, { keyId: minted.keyId, tenantId, scope, hash: hashApiKeySecret(minted.secret), revoked: false });
      return minted;
    },
    revoke(keyId: string) {
      records.set(keyId, { ...records.get(keyId)!, revoked: true });
    },
    find: async (keyId: string) => {
      lookups++;
      return records.get(keyId);
    },
    lookups: () => lookups,
  };
};

export const operatorKey = mintApiKey();

/** A tiny app: one GET and one POST route per scope set, behind the real auth middleware. */
export const authApp = (auth: ReturnType<typeof createAuth>) => {
  const app = express();
  app.use(requestContext());
  const guarded = (scopes: readonly Scope[]) => [auth.authenticate, auth.requireScope(scopes)];
  const echo = (req: express.Request, res: express.Response) => res.json(principalOf(req));
  app.get('/tenant-data', ...guarded(['tenant', 'auditor']), echo);
  app.post('/tenant-data', ...guarded(['tenant']), echo);
  app.post('/operator', ...guarded(['operator']), echo);
  app.post('/token', auth.authenticate, async (req, res) => res.json(await auth.issueToken(principalOf(req))));
  app.use(problemMiddleware(silent));
  return app;
};

export const makeAuth = (deps: Partial<AuthDeps> & Pick<AuthDeps, 'keys' | 'findApiKey'>) =>
  createAuth({ issuer: ISSUER, audience: AUDIENCE, operatorApiKey: operatorKey.key, apiKeyCacheMs: 0, ...deps });
