import http from 'node:http';
import https from 'node:https';

/** What a platform answered: its status and its body parsed as JSON (null when it was not JSON). */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A request that got no answer: `name` TimeoutError after `timeoutMs`, else the socket's error `code`. */
export class TransportError extends Error {
  constructor(
    message: string,
    override readonly name: 'TimeoutError' | 'TransportError',
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const MAX_ANSWER_BYTES = 1 << 20;

/**
 * One JSON call over Node's own HTTP client, so the caller's agent sees the request (the bots
 * worker's journaled agent, send-journal.ts); `fetch` runs on undici, which no Node agent reaches.
 */
export const requestJson = (
  url: string,
  options: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; timeoutMs: number; agents?: { http: http.Agent; https: https.Agent } | undefined },
): Promise<JsonAnswer> =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const send = secure ? https.request : http.request;
    const agent = options.agents ? (secure ? options.agents.https : options.agents.http) : undefined;
    const headers = { accept: 'application/json', ...options.headers, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) };
    const request = send(target, { method: options.method, headers, ...(agent ? { agent } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) request.destroy(new TransportError('the answer was too large', 'TransportError', 'EANSWERTOOLARGE'));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        clearTimeout(timer);
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = null;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(error instanceof TransportError ? error : new TransportError(error.message, 'TransportError', error.code));
      });
    });
    // the whole call, not an idle socket: a platform that answers slowly byte by byte times out too
    const timer = setTimeout(() => request.destroy(new TransportError(`no answer within ${options.timeoutMs} ms`, 'TimeoutError', undefined)), options.timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error instanceof TransportError ? error : new TransportError(error.message, 'TransportError', error.code));
    });
    request.end(options.body);
  });
