import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { chatWithRetries } from '../../adapters/openclaw/gateway-client.ts';
import { MAX_MESSAGE_TEXT } from '../../domain/index.ts';
import { gatewayChat } from './support.ts';

const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gateway client: streamed replies are not retried, line ends split across chunks', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
  });
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const chat = (baseUrl: string, onText: (t: string) => void = () => undefined) => gatewayChat(baseUrl, { onText });

  it('an attempt that times out after it streamed text is not retried (docs: retried "only while nothing was streamed")', async () => {
    let requests = 0;
    const url = await serve((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${chunk('half an answer')}\n\n`); // then hangs
    });
    const partials: string[] = [];
    await expect(chatWithRetries(chat(url, (t) => partials.push(t)), { retries: 2, baseDelayMs: 10, attemptTimeoutMs: 300 })).rejects.toThrow();
    expect(requests).toBe(1);
  });

  it('a CRLF stream whose TCP chunk splits "\\r\\n\\r\\n" between \\r and \\n is still read', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      void (async () => {
        res.write(`${chunk('Hello')}\r\n\r`);
        await sleep(50);
        res.write(`\n${chunk(' world')}\r\n\r\n`);
        await sleep(50);
        res.end('data: [DONE]\r\n\r\n');
      })();
    });
    await expect(chatWithRetries(chat(url), { retries: 0, attemptTimeoutMs: 2_000 })).resolves.toBe('Hello world');
  });

  it('a gateway that never stops streaming is read up to the longest storable message, then cut off (the stream is cancelled)', async () => {
    let closed = false;
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write(`${chunk('x'.repeat(1_000))}\n\n`), 1);
      req.socket.once('close', () => ((closed = true), clearInterval(timer)));
    });
    const partials: number[] = [];
    const reply = await chatWithRetries(chat(url, (t) => partials.push(t.length)), { retries: 0, attemptTimeoutMs: 10_000 });
    expect(reply.length).toBeGreaterThan(MAX_MESSAGE_TEXT);
    expect(reply.length).toBeLessThanOrEqual(MAX_MESSAGE_TEXT + 1_000);
    expect(Math.max(...partials)).toBe(reply.length);
    for (const deadline = Date.now() + 2_000; !closed && Date.now() < deadline; ) await sleep(10);
    expect(closed, 'the gateway connection is closed once the reply is long enough').toBe(true);
  });

  it('one stream event over 1 MiB (no blank line ever) is refused, not buffered without end', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${'y'.repeat(1_100_000)}`);
    });
    await expect(chatWithRetries(chat(url), { retries: 0, attemptTimeoutMs: 5_000 })).rejects.toThrow(/over 1 MiB/);
  });

  it('a shutdown during the backoff between attempts ends the wait at once', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(503).end();
    });
    const controller = new AbortController();
    const started = Date.now();
    const asked = chatWithRetries({ ...chat(url), signal: controller.signal }, { retries: 5, baseDelayMs: 5_000, attemptTimeoutMs: 2_000 });
    await sleep(200);
    controller.abort(new Error('shutting down'));
    await expect(asked).rejects.toThrow('shutting down');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
