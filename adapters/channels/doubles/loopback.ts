import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Plumbing shared by the third-party doubles: a node:http server on 127.0.0.1 and a free port, that
 * can hold requests unanswered (a "timeout" from the client's side) and closes everything it holds,
 * keep-alive sockets included. No test framework inside: runtime code can start a double too.
 */
export type Loopback = {
  readonly url: string;
  readonly port: number;
  /** Keeps a request unanswered until the server closes (its socket is then destroyed). */
  hold(res: http.ServerResponse): void;
  close(): Promise<void>;
};

export const startLoopback = async (handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void): Promise<Loopback> => {
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    Promise.resolve(handle(req, res)).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hold(res) {
      held.add(res);
      res.on('close', () => held.delete(res));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

export const readBody = (req: http.IncomingMessage, limitBytes = 1024 * 1024): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export const sendJson = (res: http.ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** What a platform got back when it delivered to a webhook. */
export type Delivery = { readonly status: number; readonly body: string; readonly contentType: string | null };

/** POSTs exact bytes, as a platform delivering a webhook does. */
export const postRaw = async (url: string, rawBody: string | Buffer, headers: Record<string, string>): Promise<Delivery> => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: rawBody });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
};
