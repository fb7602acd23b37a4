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
    await expect(refused).rejects.toThrow('gateway unreachable: its host has no public address');
    expect(gateway.hits()).toBe(0);
    await expect(chatWithRetries(chat(url, createAddressGuard({ allowPrivateNetworks: true, resolve: loopbackDns })), { retries: 0, attemptTimeoutMs: 2_000 })).resolves.toBe('hello');
    expect(gateway.hits()).toBe(1);
  });

  it('says the same, once and without retrying, for a name with an internal address and for a name that does not exist (no map of our DNS)', async () => {
    const asked: string[] = [];
    const dns: Resolve = async (hostname) => {
      asked.push(hostname);
      if (hostname === 'db.internal') return [{ address: '10.1.2.3', family: 4 }];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    };
    const guard = createAddressGuard({ allowPrivateNetworks: false, resolve: dns });
    const reasons: string[] = [];
    for (const host of ['db.internal', 'no-such-name.internal']) {
      const failed = await chatWithRetries(chat(`http://${host}:8080`, guard), { retries: 2, baseDelayMs: 1, attemptTimeoutMs: 2_000 }).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      reasons.push(failed);
    }
    expect(reasons).toEqual(['gateway unreachable: its host has no public address', 'gateway unreachable: its host has no public address']);
    expect(asked).toEqual(['db.internal', 'no-such-name.internal']);
  });

  it('still retries a resolver that fails for a while (EAI_AGAIN), and names it', async () => {
    let asked = 0;
    const dns: Resolve = async () => {
      asked += 1;
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN gw.tenant.example'), { code: 'EAI_AGAIN' });
    };
    const failed = chatWithRetries(chat('http://gw.tenant.example:8080', createAddressGuard({ allowPrivateNetworks: false, resolve: dns })), { retries: 2, baseDelayMs: 1, attemptTimeoutMs: 2_000 });
    await expect(failed).rejects.toThrow(/gateway unreachable: .*EAI_AGAIN/);
    expect(asked).toBe(3);
  });
});
