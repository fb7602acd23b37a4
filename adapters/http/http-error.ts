/**
 * Failures that only exist at the HTTP edge (401, 413, 415, 429, route 404). Domain failures stay
 * `AppError`s; the problem middleware renders both. Like AppError, callers branch on `code`.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.details = options.details;
  }
}

export const isHttpError = (error: unknown): error is HttpError => error instanceof HttpError;

const quoted = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/** RFC 6750 §3: every 401 names the scheme; `error` only when a credential was presented. */
export const bearerChallenge = (error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope', description?: string): string =>
  ['Bearer realm="openclaw"', error ? `error=${quoted(error)}` : '', description ? `error_description=${quoted(description)}` : '']
    .filter(Boolean)
    .join(', ');

export const unauthorized = (code: string, message: string, presented = true): HttpError =>
  new HttpError(401, code, message, {
    headers: { 'WWW-Authenticate': presented ? bearerChallenge('invalid_token', message) : bearerChallenge() },
  });

export const insufficientScope = (needed: readonly string[]): HttpError =>
  new HttpError(403, 'insufficient_scope', `this operation needs one of the scopes: ${needed.join(', ')}`, {
    headers: { 'WWW-Authenticate': bearerChallenge('insufficient_scope') },
    details: { requiredScopes: [...needed] },
  });

export const badRequest = (code: string, message: string, details?: Record<string, unknown>): HttpError =>
  new HttpError(400, code, message, details ? { details } : {});

export const notFound = (code: string, message: string): HttpError => new HttpError(404, code, message);
