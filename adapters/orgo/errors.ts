import { AppError } from '../../domain/shared/errors.ts';
import type { ErrorKind } from '../../domain/shared/errors.ts';

/**
 * Typed failures of Orgo calls. Callers branch on `code`:
 * - orgo_not_available: 400, the computer is booting or broken (try again later)
 * - orgo_unauthorized: 401/403, a bad key or a key scoped to another workspace (`workspace_scope_mismatch`): an operator must act
 * - orgo_not_found: 404
 * - orgo_wrong_state: 409, blocked by the computer's current state
 * - orgo_failed: 500, the desktop agent failed
 * - orgo_unreachable: 503 after the retries, or no connection at all
 * - orgo_timeout: no answer in time (a create may still have happened: look the name up)
 * - orgo_rejected: any other 4xx (our request was wrong), orgo_bad_response: an answer we cannot read
 * - orgo_workspace_not_found: the platform's workspace does not exist (a 404 on a call within it)
 */
export const ORGO_ERRORS = {
  notAvailable: 'orgo_not_available',
  unauthorized: 'orgo_unauthorized',
  notFound: 'orgo_not_found',
  wrongState: 'orgo_wrong_state',
  methodNotAllowed: 'orgo_method_not_allowed',
  failed: 'orgo_failed',
  unreachable: 'orgo_unreachable',
  timeout: 'orgo_timeout',
  rejected: 'orgo_rejected',
  badResponse: 'orgo_bad_response',
  workspaceNotFound: 'orgo_workspace_not_found',
} as const;

const BY_STATUS: Record<number, [ErrorKind, string]> = {
  400: ['unavailable', ORGO_ERRORS.notAvailable],
  401: ['unavailable', ORGO_ERRORS.unauthorized],
  403: ['unavailable', ORGO_ERRORS.unauthorized],
  404: ['not_found', ORGO_ERRORS.notFound],
  405: ['unavailable', ORGO_ERRORS.methodNotAllowed],
  409: ['conflict', ORGO_ERRORS.wrongState],
  500: ['unavailable', ORGO_ERRORS.failed],
  503: ['unavailable', ORGO_ERRORS.unreachable],
};

export interface OrgoErrorBody {
  readonly error?: string | undefined;
  readonly code?: string | undefined;
  readonly request_id?: string | undefined;
}

/** Removes the key wherever a server might have echoed it; text is also bounded. */
export const redact = (text: string, secret: string | undefined): string => {
  // redact first: a key cut by the bound would otherwise be left in part
  return (secret && secret.length > 0 ? text.split(secret).join('[redacted]') : text).slice(0, 300);
};

/**
 * `fromOrgo`: the body was Orgo's documented JSON error (`{error, request_id}`), kept as `details.fromOrgo`;
 * false for anything else, e.g. a web server's HTML 404 page when ORGO_API_URL points beside the API.
 */
export const orgoHttpError = (status: number, operation: string, body: OrgoErrorBody, secret: string | undefined, fromOrgo = false): AppError => {
  const [kind, code] = BY_STATUS[status] ?? (status >= 500 ? ['unavailable', ORGO_ERRORS.failed] : ['validation', ORGO_ERRORS.rejected]);
  const said = body.error ? `: ${redact(body.error, secret)}` : '';
  const upstreamCode = body.code ? redact(body.code, secret) : undefined;
  const hint =
    code === ORGO_ERRORS.unauthorized
      ? upstreamCode === 'workspace_scope_mismatch'
        ? ' (the API key is scoped to another workspace: check ORGO_WORKSPACE_ID)'
        : ' (check ORGO_API_KEY)'
      : '';
  return new AppError(kind, code, `Orgo answered ${status} to ${operation}${said}${hint}`, {
    status,
    operation,
    fromOrgo,
    ...(upstreamCode ? { upstreamCode } : {}),
    ...(body.request_id ? { requestId: redact(body.request_id, secret) } : {}),
  });
};

export const orgoTimeout = (operation: string, ms: number): AppError =>
  new AppError('unavailable', ORGO_ERRORS.timeout, `Orgo did not answer ${operation} within ${ms} ms`, { operation, timeoutMs: ms });

export const orgoUnreachable = (operation: string, cause: string): AppError =>
  new AppError('unavailable', ORGO_ERRORS.unreachable, `could not reach Orgo for ${operation}: ${cause}`, { operation });

export const orgoBadResponse = (operation: string, problem: string): AppError =>
  new AppError('unavailable', ORGO_ERRORS.badResponse, `Orgo's answer to ${operation} was not understood: ${problem}`, { operation });

/** `byName`: the workspace was found by name (ORGO_WORKSPACE_ID unset) and is looked up, or made, again next time. */
export const orgoWorkspaceNotFound = (workspaceId: string, byName: boolean, cause: unknown): AppError =>
  new AppError(
    'unavailable',
    ORGO_ERRORS.workspaceNotFound,
    byName
      ? `the Orgo workspace ${workspaceId} no longer exists: it is looked up by name (or made) again at the next call`
      : `the Orgo workspace ${workspaceId} does not exist: check ORGO_WORKSPACE_ID (or leave it unset to use one found or made by name)`,
    { status: 404, workspaceId },
    { cause },
  );
