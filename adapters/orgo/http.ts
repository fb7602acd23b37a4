import type { z } from 'zod';
import { errorBodySchema } from './types.ts';
import { orgoBadResponse, orgoHttpError, orgoTimeout, orgoUnreachable, redact } from './errors.ts';

export interface OrgoHttpOptions {
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer …`; never logged, never part of an error. */
  readonly apiKey: string;
  readonly timeoutMs: number;
  /** Waits before each retry of a 503 or a refused connection; Orgo documents 1 s, 2 s, 4 s. */
  readonly retryDelaysMs?: readonly number[];
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface OrgoRequest<S extends z.ZodType> {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  /** A short description for errors, e.g. `POST /computers/{id}/bash` (no ids, no secrets). */
  readonly operation: string;
  readonly body?: unknown;
  /** How the answer must look; without one the answer is ignored (DELETE has no documented body). */
  readonly schema?: S;
  readonly timeoutMs?: number;
}

export const DOCUMENTED_RETRY_DELAYS_MS = [1_000, 2_000, 4_000] as const;

const sleeping = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Nothing reached the server: safe to send again whatever the method. */
const notSent = (error: unknown): boolean => {
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'EAI_AGAIN' || code === 'ENOTFOUND';
};

const isTimeout = (error: unknown): boolean => error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');

/** The answer's body; text that is not JSON (e.g. a proxy's HTML error page) becomes `{ error: text }`, `json` false. */
const readJson = async (response: Response): Promise<{ payload: unknown; json: boolean }> => {
  const text = await response.text();
  if (text.trim() === '') return { payload: undefined, json: false };
  try {
    return { payload: JSON.parse(text) as unknown, json: true };
  } catch {
    return { payload: { error: text }, json: false };
  }
};

/**
 * One Orgo call: bearer auth, a timeout, JSON in and out, typed errors by status, and the
 * documented retries of 503 "could not reach the desktop" (also of a connection that was refused).
 */
export const orgoHttp = (options: OrgoHttpOptions) => {
  const base = options.baseUrl.replace(/\/+$/, '');
  const delays = options.retryDelaysMs ?? DOCUMENTED_RETRY_DELAYS_MS;
  const sleep = options.sleep ?? sleeping;
  const secret = options.apiKey;

  const once = async <S extends z.ZodType>(request: OrgoRequest<S>): Promise<{ retry: boolean; error?: unknown; value?: z.output<S> }> => {
    const timeoutMs = request.timeoutMs ?? options.timeoutMs;
    let response: Response;
    let payload: unknown;
    let json = false;
    try {
      response = await fetch(`${base}${request.path}`, {
        method: request.method,
        headers: {
          authorization: `Bearer ${secret}`,
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      ({ payload, json } = await readJson(response));
    } catch (error) {
      if (isTimeout(error)) return { retry: false, error: orgoTimeout(request.operation, timeoutMs) };
      const cause = redact(String((error as { cause?: { code?: unknown } }).cause?.code ?? (error as Error).message), secret);
      return { retry: notSent(error), error: orgoUnreachable(request.operation, cause) };
    }
    if (!response.ok) {
      const body = errorBodySchema.safeParse(payload ?? {});
      // Orgo's own error is JSON with `error` (docs.orgo.ai); anything else came from something else at that URL
      const fromOrgo = json && body.success && typeof body.data.error === 'string';
      const error = orgoHttpError(response.status, request.operation, body.success ? body.data : {}, secret, fromOrgo);
      return { retry: response.status === 503, error };
    }
    if (!request.schema) return { retry: false, value: undefined as z.output<S> };
    const parsed = request.schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { retry: false, error: orgoBadResponse(request.operation, `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`) };
    }
    return { retry: false, value: parsed.data };
  };

  return async <S extends z.ZodType>(request: OrgoRequest<S>): Promise<z.output<S>> => {
    for (let attempt = 0; ; attempt++) {
      const outcome = await once(request);
      if (outcome.error === undefined) return outcome.value as z.output<S>;
      if (!outcome.retry || attempt >= delays.length) throw outcome.error;
      await sleep(delays[attempt]!);
    }
  };
};

export type OrgoCall = ReturnType<typeof orgoHttp>;
