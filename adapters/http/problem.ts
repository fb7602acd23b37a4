import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { ErrorKind } from '../../domain/shared/errors.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { STORE_ERRORS } from '../../domain/ports/event-store.ts';
import { isConnectionLost } from '../event-store/sql/db.ts';
import { HttpError, isHttpError } from './http-error.ts';
import { tenantOfRequest } from './request-context.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Domain `limit` errors are quotas of the tier (knights at once, messages a day, active API keys):
 * retrying soon does not help, so they are 403 with their code. Request-rate limits are 429 with
 * `Retry-After`, raised by the rate limiter as HttpErrors.
 */
export const STATUS_OF_KIND: { readonly [K in ErrorKind]: number } = {
  validation: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  limit: 403,
  unavailable: 503,
  internal: 500,
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

export interface Rendered {
  readonly problem: Problem;
  readonly headers: Record<string, string>;
}

const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'instance']);

export const problem = (status: number, code: string, detail: string, details?: Record<string, unknown>): Problem => ({
  type: `urn:openclaw:problem:${code}`,
  title: STATUS_CODES[status] ?? 'Error',
  status,
  detail,
  code,
  ...Object.fromEntries(Object.entries(details ?? {}).filter(([k]) => !RESERVED.has(k))),
});

/** Body-parser (http-errors) failures: `type` says what went wrong; their messages may quote the body. */
const BODY_PARSER: Record<string, [number, string, string]> = {
  'entity.parse.failed': [400, 'malformed_json', 'the request body is not valid JSON'],
  'entity.too.large': [413, 'payload_too_large', 'the request body is too large'],
  'encoding.unsupported': [415, 'unsupported_media_type', 'the content encoding is not supported'],
  'charset.unsupported': [415, 'unsupported_media_type', 'the charset is not supported'],
  'request.aborted': [400, 'request_aborted', 'the request was aborted'],
  'request.size.invalid': [400, 'invalid_content_length', 'the request body does not match its Content-Length'],
};

interface ZodLike {
  name: string;
  issues: { path: PropertyKey[]; message: string }[];
}
const isZodError = (e: unknown): e is ZodLike =>
  typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ZodError' && Array.isArray((e as ZodLike).issues);

export const issuesOf = (error: ZodLike) =>
  error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));

const clientStatusOf = (e: object): number | undefined => {
  const status = (e as { status?: unknown; statusCode?: unknown }).status ?? (e as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
};

/** The database out of reach, as the driver reports it on the read side (the event store wraps the same as `store_unavailable`). */
const databaseUnavailable = (error: unknown): boolean => error instanceof Error && !isAppError(error) && !isHttpError(error) && isConnectionLost(error);

/** What a client is told when the database is out of reach (the driver's text, with addresses, stays in the log). */
const UNAVAILABLE_DETAIL = 'the database is unavailable; retry in a moment';

/** Everything a handler can throw, as a problem document. `undefined` means "unexpected": a 500. */
export const renderError = (error: unknown): Rendered | undefined => {
  if (isHttpError(error)) return { problem: problem(error.status, error.code, error.message, error.details), headers: { ...error.headers } };
  if (isAppError(error)) {
    const status = STATUS_OF_KIND[error.kind] ?? 500;
    if (status === 500) return undefined;
    const message = error.code === STORE_ERRORS.unavailable ? UNAVAILABLE_DETAIL : error.message;
    return { problem: problem(status, error.code, message, error.details), headers: status === 503 ? { 'Retry-After': '1' } : {} };
  }
  if (databaseUnavailable(error)) return { problem: problem(503, STORE_ERRORS.unavailable, UNAVAILABLE_DETAIL), headers: { 'Retry-After': '1' } };
  if (isZodError(error)) return { problem: problem(400, 'validation_failed', 'the request is invalid', { errors: issuesOf(error) }), headers: {} };
  if (typeof error === 'object' && error !== null) {
    const type = (error as { type?: unknown }).type;
    const known = typeof type === 'string' ? BODY_PARSER[type] : undefined;
    if (known) return { problem: problem(known[0], known[1], known[2]), headers: {} };
    const status = clientStatusOf(error);
    if (status !== undefined) return { problem: problem(status, 'bad_request', STATUS_CODES[status] ?? 'bad request'), headers: {} };
  }
  return undefined;
};

export const sendProblem = (res: Response, rendered: Rendered): void => {
  res.status(rendered.problem.status).set(rendered.headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(rendered.problem));
};

const requestIdOf = (res: Response): string | undefined => res.getHeader('X-Request-Id')?.toString();

/** The one error middleware: client mistakes keep their status; anything else is a logged, opaque 500. */
export const problemMiddleware = (log: Logger): ErrorRequestHandler => (error: unknown, req: Request, res: Response, next) => {
  if (res.headersSent) return next(error);
  const requestId = requestIdOf(res);
  const tenantId = tenantOfRequest(req);
  const rendered = renderError(error);
  if (rendered) {
    if (rendered.problem.status === 503) log.warn({ err: error, code: rendered.problem.code, requestId, tenantId }, 'request refused: a dependency is unavailable');
    else log.debug({ code: rendered.problem.code, status: rendered.problem.status, requestId, tenantId }, 'request refused');
    return sendProblem(res, { ...rendered, problem: { ...rendered.problem, ...(requestId ? { requestId } : {}) } });
  }
  log.error({ err: error, requestId, tenantId, method: req.method, path: req.path }, 'unexpected error');
  sendProblem(res, {
    problem: problem(500, 'internal_error', 'an unexpected error occurred', requestId ? { requestId } : {}),
    headers: {},
  });
};

export const notFoundHandler: RequestHandler = (req, _res, next) =>
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path.slice(0, 200)}`));
