import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAddressGuard } from '../../adapters/openclaw/address-guard.ts';
import type { Resolve } from '../../adapters/openclaw/address-guard.ts';
import { chatWithRetries } from '../../adapters/openclaw/gateway-client.ts';
import { gatewayChat } from './support.ts';

const done = (res: ServerResponse, text: string) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\ndata: [DONE]\n\n`);
};

describe('gateway client: the addresses it connects to', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; hits: () => number }> => {
    let hits = 0;
    const server = createServer((req, res) => ((hits += 1), handler(req, res)));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { port: (server.address() as AddressInfo).port, hits: () => hits };
  };
  const chat = (baseUrl: string, addressGuard?: ReturnType<typeof createAddressGuard>) => gatewayChat(baseUrl, { addressGuard });
  const loopbackDns: Resolve = async () => [{ address: '127.0.0.1', family: 4 }];

  it('does not follow a redirect (a public gateway could send the POST on to an internal address)', async () => {
    const internal = await serve((_req, res) => done(res, 'internal secrets'));
    const gateway = await serve((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${internal.port}/v1/chat/completions` });
      res.end();
    });
    await expect(chatWithRetries(chat(`http://127.0.0.1:${gateway.port}`), { retries: 0, attemptTimeoutMs: 2_000 })).rejects.toThrow(/HTTP 307/);
    expect(internal.hits()).toBe(0);
  });

  it('refuses a name that resolves to loopback without connecting, and connects to it when private networks are allowed', async () => {
    const gateway = await serve((_req, res) => done(res, 'hello'));
    const url = `http://gw.tenant.example:${gateway.port}`;
    const refused = chatWithRetries(chat(url, createAddressGuard({ allowPrivateNetworks: false, resolve: loopbackDns })), { retries: 2, baseDelayMs: 1, attemptTimeoutMs: 2_000 });
    await expect(refused).rejects.toThrow('gateway address not allowed: it is not a public address');
    expect(gateway.hits()).toBe(0);
    await expect(chatWithRetries(chat(url, createAddressGuard({ allowPrivateNetworks: true, resolve: loopbackDns })), { retries: 0, attemptTimeoutMs: 2_000 })).resolves.toBe('hello');
    expect(gateway.hits()).toBe(1);
  });
});
