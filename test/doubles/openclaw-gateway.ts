import type http from 'node:http';
import { startLoopback } from '../../adapters/channels/doubles/loopback.ts';
import type { Loopback } from '../../adapters/channels/doubles/loopback.ts';

/**
 * An OpenClaw gateway double on loopback, following the documented OpenAI-compatible HTTP API
 * (reference/openclaw.md): `POST /v1/chat/completions` with `Authorization: Bearer <token>`,
 * `model: "openclaw:<agentId>"` (or `x-openclaw-agent-id`), session by `x-openclaw-session-key`
 * (or `user`); `stream: true` answers SSE chunks `data: {choices:[{delta:{content}}]}` ending in
 * `data: [DONE]`. Its answer is `reply(text, sessionKey)` split into `chunks`, `latencyMs` before
 * the first byte and `chunkDelayMs` between chunks. Faults: `failNext(n, status)` answers n
 * requests with an error status, `hangNext(n)` never answers n requests (a timeout), `breakNext(n)`
 * drops the connection in the middle of the stream.
 */
export interface GatewayDoubleOptions {
  readonly token: string;
  readonly latencyMs?: number;
  readonly chunkDelayMs?: number;
  readonly chunks?: number;
  readonly reply?: (text: string, sessionKey: string) => string;
}

export interface GatewayCall {
  readonly sessionKey: string;
  readonly agentId: string;
  readonly text: string;
  readonly authorized: boolean;
  readonly status: number;
}

export interface GatewayDouble {
  readonly url: string;
  readonly calls: GatewayCall[];
  /** Session keys and the user messages each has seen, in order. */
  readonly sessions: Map<string, string[]>;
  set(options: Partial<Omit<GatewayDoubleOptions, 'token'>>): void;
  failNext(n: number, status?: number): void;
  hangNext(n: number): void;
  breakNext(n: number): void;
  close(): Promise<void>;
}

const readBody = async (req: http.IncomingMessage): Promise<string> => {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const startGatewayDouble = async (initial: GatewayDoubleOptions): Promise<GatewayDouble> => {
  let options: GatewayDoubleOptions = { latencyMs: 0, chunkDelayMs: 0, chunks: 3, reply: (text) => `You said: ${text}`, ...initial };
  const faults = { fail: 0, failStatus: 500, hang: 0, break: 0 };
  const calls: GatewayCall[] = [];
  const sessions = new Map<string, string[]>();
  const server: Loopback = await startLoopback(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const authorized = req.headers.authorization === `Bearer ${options.token}`;
    const raw = await readBody(req);
    let body: { model?: unknown; stream?: unknown; user?: unknown; messages?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      body = {};
    }
    const messages = Array.isArray(body.messages) ? (body.messages as { role?: unknown; content?: unknown }[]) : [];
    const last = messages.at(-1);
    const text = typeof last?.content === 'string' ? last.content : '';
    const sessionKey = String(req.headers['x-openclaw-session-key'] ?? body.user ?? '');
    const agentId = String(req.headers['x-openclaw-agent-id'] ?? (typeof body.model === 'string' ? body.model.replace(/^openclaw:/, '') : ''));
    const answer = (status: number, error?: string) => {
      calls.push({ sessionKey, agentId, text, authorized, status });
      if (error) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: error, type: 'invalid_request_error' } }));
    };
    if (!authorized) return answer(401, 'unauthorized');
    if (!text || last?.role !== 'user') return answer(400, 'messages must end with a user message');
    if (faults.hang > 0) {
      faults.hang -= 1;
      answer(0);
      server.hold(res);
      return;
    }
    if (faults.fail > 0) {
      faults.fail -= 1;
      return answer(faults.failStatus, 'gateway failure (double)');
    }
    const breakIt = faults.break > 0;
    if (breakIt) faults.break -= 1;
    answer(200);
    sessions.set(sessionKey, [...(sessions.get(sessionKey) ?? []), text]);
    await sleep(options.latencyMs ?? 0);
    const full = options.reply!(text, sessionKey);
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: full }, finish_reason: 'stop' }] }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const n = Math.max(1, options.chunks ?? 3);
    const size = Math.ceil(full.length / n);
    for (let i = 0; i < n; i++) {
      const content = full.slice(i * size, (i + 1) * size);
      const chunk = { id: 'chatcmpl-double', object: 'chat.completion.chunk', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, finish_reason: null }] };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (breakIt && i === 0) {
        res.socket?.destroy();
        return;
      }
      if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
    }
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  });

  return {
    url: server.url,
    calls,
    sessions,
    set(next) {
      options = { ...options, ...next };
    },
    failNext(n, status = 500) {
      faults.fail = n;
      faults.failStatus = status;
    },
    hangNext(n) {
      faults.hang = n;
    },
    breakNext(n) {
      faults.break = n;
    },
    close: () => server.close(),
  };
};
