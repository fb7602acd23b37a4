/**
 * Every failure a caller can act on carries a stable `code`; callers branch on the code,
 * never on `instanceof`, so errors survive crossing process and package boundaries.
 */
export type ErrorKind =
  | 'validation' // the input is malformed: 400
  | 'not_found' // 404 (also used for another tenant's object)
  | 'conflict' // the request contradicts current state: 409
  | 'forbidden' // authenticated but not allowed: 403
  | 'limit' // a tier limit was reached: 429 or 403 depending on the limit
  | 'unavailable' // a dependency is down: 503
  | 'internal'; // stored data is damaged or unreadable: 500, with its code

export class AppError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown> | undefined;

  /** `options.cause`: what went wrong underneath, for the log (never shown to a client). */
  constructor(kind: ErrorKind, code: string, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

/** A business rule refused the command. */
export const domainError = (
  kind: ErrorKind,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): AppError => new AppError(kind, code, message, details);

export const hasCode = (error: unknown, code: string): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;

export const isAppError = (error: unknown): error is AppError =>
  typeof error === 'object' &&
  error !== null &&
  typeof (error as { code?: unknown }).code === 'string' &&
  typeof (error as { kind?: unknown }).kind === 'string';
