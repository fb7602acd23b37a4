import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MAX_MESSAGE_TEXT } from '../../domain/index.ts';
import type { AddressGuard } from './address-guard.ts';

/**
 * A gateway is the tenant's: its stream must not grow without end in the process all tenants share.
 * Past the longest message the platform stores, reading stops and the text so far is the reply
 * (the dispatcher cuts it with its marker); one stream event larger than this is malformed.
 */
const STREAM_TEXT_LIMIT = MAX_MESSAGE_TEXT;
const STREAM_EVENT_LIMIT = 1 << 20;

/** One chat turn sent to an OpenClaw gateway's OpenAI-compatible `/v1/chat/completions`, streamed back. */
export interface GatewayChat {
  readonly baseUrl: string;
  /** The gateway token: full operator access, sent only as the bearer and never logged. */
  readonly token: string;
  readonly agentId: string;
  /** One OpenClaw session per conversation: `x-openclaw-session-key` (and the OpenAI `user` field). */
  readonly sessionKey: string;
  readonly text: string;
  readonly signal: AbortSignal;
  readonly onText: (soFar: string) => void;
  /** A tenant's gateway: only public addresses, checked on every connection (absent: any address, e.g. the VM's local gateway). */
  readonly addressGuard?: AddressGuard | undefined;
}

/** A failed gateway call; `retryable` when asking again may succeed (network, 5xx, 429) and nothing was streamed yet. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

const chunkSchema = z.object({
  choices: z.array(z.object({ delta: z.object({ content: z.string().nullish() }).passthrough().optional() }).passthrough()).optional(),
  error: z.object({ message: z.string() }).passthrough().optional(),
});

/** The answer's status and its body as it arrives. */
interface Answer {
  readonly status: number;
  readonly body: IncomingMessage;
}

/**
 * One POST over node:http(s) rather than fetch: only these take a `lookup` for the connection, so
 * the address guard checks the very addresses connected to. Redirects are not followed.
 */
const post = (url: URL, headers: Record<string, string>, body: string, chat: GatewayChat): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      signal: chat.signal,
      ...(chat.addressGuard ? { agent: chat.addressGuard.agentFor(url.protocol) } : {}),
    });
    request.once('response', (response) => resolve({ status: response.statusCode ?? 0, body: response }));
    request.on('error', reject);
    request.end(body);
  });

/** Asks once and streams the answer; resolves with the whole text once the stream says `[DONE]`. */
export const chatOnce = async (chat: GatewayChat): Promise<string> => {
  const url = new URL(`${chat.baseUrl}/v1/chat/completions`);
  chat.addressGuard?.checkHost(url.hostname);
  let response: Answer;
  try {
    response = await post(
      url,
      {
        authorization: `Bearer ${chat.token}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'x-openclaw-agent-id': chat.agentId,
        'x-openclaw-session-key': chat.sessionKey,
      },
      JSON.stringify({
        model: `openclaw:${chat.agentId}`,
        stream: true,
        user: chat.sessionKey,
        messages: [{ role: 'user', content: chat.text }],
      }),
      chat,
    );
  } catch (error) {
    if (chat.signal.aborted) throw chat.signal.reason;
    if (error instanceof GatewayError) throw error;
    throw new GatewayError(`gateway unreachable: ${(error as Error).message}`, true);
  }
  if (response.status < 200 || response.status > 299) {
    response.body.destroy();
    const retryable = response.status >= 500 || response.status === 429;
    const what = response.status === 401 || response.status === 403 ? 'refused the gateway token' : 'answered';
    throw new GatewayError(`gateway ${what} with HTTP ${response.status}`, retryable, response.status);
  }
  return readStream(response.body, chat);
};

const readStream = async (body: AsyncIterable<Uint8Array>, chat: GatewayChat): Promise<string> => {
  const decoder = new TextDecoder();
  let buffer = '';
  let text = '';
  let received = false;
  try {
    for await (const bytes of body) {
      // normalized on the whole buffer: a chunk may end between the \r and the \n of one line end
      buffer = (buffer + decoder.decode(bytes, { stream: true })).replaceAll('\r\n', '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        if (data === '[DONE]') return text;
        const parsed = chunkSchema.safeParse(safeJson(data));
        if (!parsed.success) throw new GatewayError('gateway sent a malformed stream chunk', !received);
        if (parsed.data.error) throw new GatewayError(`gateway error: ${parsed.data.error.message.slice(0, 200)}`, !received);
        const delta = parsed.data.choices?.[0]?.delta?.content ?? '';
        if (delta) {
          received = true;
          text += delta;
          chat.onText(text);
          // long enough: the rest would be cut anyway (leaving the loop cancels the stream)
          if (text.length > STREAM_TEXT_LIMIT) return text;
        }
      }
      if (buffer.length > STREAM_EVENT_LIMIT) throw new GatewayError('gateway sent a stream event over 1 MiB', !received);
    }
  } catch (error) {
    if (chat.signal.aborted) throw chat.signal.reason;
    if (error instanceof GatewayError) throw error;
    throw new GatewayError(`gateway stream broke: ${(error as Error).message}`, !received);
  }
  throw new GatewayError('gateway stream ended before [DONE]', !received);
};

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Asks, and asks again with exponential backoff (and jitter) while the failure is retryable. */
export const chatWithRetries = async (chat: GatewayChat, options: { retries: number; baseDelayMs?: number; attemptTimeoutMs: number }): Promise<string> => {
  const base = options.baseDelayMs ?? 250;
  for (let attempt = 0; ; attempt++) {
    const signal = AbortSignal.any([chat.signal, AbortSignal.timeout(options.attemptTimeoutMs)]);
    let streamed = false;
    try {
      return await chatOnce({ ...chat, signal, onText: (soFar) => ((streamed = true), chat.onText(soFar)) });
    } catch (error) {
      if (chat.signal.aborted) throw chat.signal.reason;
      const timedOut = signal.aborted;
      // asked again only while nothing was streamed: the session would see the message twice
      const retryable = !streamed && (timedOut || (error instanceof GatewayError && error.retryable));
      if (!retryable || attempt >= options.retries) throw timedOut ? new GatewayError(`gateway attempt timed out after ${options.attemptTimeoutMs} ms`, true) : error;
      const delay = base * 2 ** attempt * (0.5 + Math.random());
      // a shutdown ends the wait at once, with its own reason
      await sleep(delay, undefined, { signal: chat.signal }).catch(() => {
        throw chat.signal.reason;
      });
    }
  }
};
