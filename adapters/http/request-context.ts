import { createHash, randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { isChatOrigin } from '../agents/knight-origin.ts';
import type { Principal } from '../auth/principal.ts';
import { rawBodyOf } from './body.ts';
import { badRequest } from './http-error.ts';

export interface RequestContext {
  readonly requestId: string;
  readonly traceparent: string | undefined;
  principal: Principal | undefined;
  /** The tenant the request acts on, once the route has told (its credential's, or the path's). */
  tenantId?: string | undefined;
}

const contexts = new WeakMap<Request, RequestContext>();

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// W3C Trace Context level 1: version 00 has exactly four fields; ids of all zeros are invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export const validTraceparent = (value: string | undefined): string | undefined => {
  const m = value === undefined ? null : TRACEPARENT.exec(value);
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!) || (m[1] === '00' && m[5] !== undefined)) return undefined;
  return value;
};

/**
 * `X-Request-Id` is kept when well-formed, otherwise replaced; it is echoed and becomes the correlation id.
 * One that reads as a chat's origin (`agent-chat:…`, the agent's mark on a knight it deployed from a chat)
 * is replaced too: the knight's reports would otherwise be posted into that chat as the agent's answers.
 */
export const requestContext = (): RequestHandler => (req, res, next) => {
  const presented = req.get('x-request-id');
  const requestId = presented !== undefined && REQUEST_ID.test(presented) && !isChatOrigin(presented) ? presented : randomUUID();
  res.setHeader('X-Request-Id', requestId);
  contexts.set(req, { requestId, traceparent: validTraceparent(req.get('traceparent')), principal: undefined });
  next();
};

export const contextOf = (req: Request): RequestContext => {
  let context = contexts.get(req);
  if (!context) {
    context = { requestId: randomUUID(), traceparent: undefined, principal: undefined };
    contexts.set(req, context);
  }
  return context;
};

/** The tenant a request acts on, once its route has told (for log lines written outside the handler). */
export const tenantOfRequest = (req: Request): string | undefined => contexts.get(req)?.tenantId;

/** What an `Idempotency-Key` may be (the OpenAPI document publishes the same pattern). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * `Idempotency-Key` (≤ 200 visible ASCII chars) plus a fingerprint of the request: the same key
 * with another method, path or body is refused by the command shell (`idempotency_key_reused`).
 * A key belongs to its caller (an operator key, or a tenant), not to one stream: see docs/decisions.md.
 */
export const idempotencyOf = (req: Request, principal: Principal): { key: string; fingerprint: string; scope: string } | undefined => {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1–200 visible ASCII characters');
  const fingerprint = createHash('sha256')
    .update(`${req.method} ${req.baseUrl}${req.path}\n`)
    .update(rawBodyOf(req))
    .digest('hex');
  const scope = principal.scope === 'operator' ? `operator:${principal.keyId}` : `tenant:${principal.tenantId}`;
  return { key, fingerprint, scope };
};
