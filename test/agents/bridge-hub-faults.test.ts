import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createBridgeHub } from '../../adapters/agents/bridge-hub.ts';
import type { BridgeHub } from '../../adapters/agents/bridge-hub.ts';
import type { AgentRequest } from '../../domain/ports/agent-runtime.ts';
import type { TenantId } from '../../domain/shared/ids.ts';

const root = path.resolve(import.meta.dirname, '../..');
const log = pino({ level: 'silent' });

const runFixture = (arg: string) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/agents/fixtures/hub-oversize.ts', arg], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });

const request = (eventId: string): AgentRequest => ({
  tenantId: 'acme' as TenantId,
  conversationId: 'c1',
  messageId: 'm1',
  eventId,
  channel: 'api',
  text: 'hi',
});
const noop = { onPartial: () => undefined, onDelayed: () => undefined };

describe('bridge hub: bad frames, shutdown, superseded attempts', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const start = async (waitMs: number, helloTimeoutMs?: number): Promise<{ hub: BridgeHub; url: string }> => {
    const hub = createBridgeHub({ verify: async () => ({ ok: true, tokenHash: 'sha256:x' }), log, waitMs, maxWaiting: 10, helloTimeoutMs });
    const server = createServer();
    hub.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/bridge` };
  };

  it('an unauthenticated client sending a frame over maxPayload does not crash the process', async () => {
    const { code, out } = await runFixture('oversize');
    expect(out).toContain('alive');
    expect(code).toBe(0);
  });

  it('an unauthenticated client sending invalid UTF-8 in a text frame does not crash the process', async () => {
    const { code, out } = await runFixture('utf8');
    expect(out).toContain('alive');
    expect(code).toBe(0);
  });

  it('a reply asked with an already aborted signal (dispatcher stopping) rejects at once instead of waiting for a bridge', async () => {
    const { hub } = await start(60_000);
    cleanup.push(() => hub.close());
    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    const outcome = await Promise.race([
      hub.runtimeFor('acme').reply(request('e1'), { signal: controller.signal, ...noop }).then(() => 'resolved', () => 'rejected'),
      new Promise((r) => setTimeout(() => r('still waiting after 1 s'), 1_000)),
    ]);
    expect(outcome).toBe('rejected');
  });

  it('hub.close() does not wait for a connection that has not said hello yet', async () => {
    const { hub, url } = await start(60_000, 10_000);
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    await new Promise((r) => ws.on('open', r));
    const t0 = Date.now();
    await hub.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
  }, 20_000);

  it('a token revoked while its hello is being checked is not attached afterwards: the hello is checked again and refused', async () => {
    let revoked = false;
    let release = () => undefined as void;
    const gate = new Promise<void>((r) => (release = r));
    let checks = 0;
    const hub = createBridgeHub({
      // reads the token's state, then takes its time (a slow store) before answering
      verify: async () => {
        const current = !revoked;
        if (checks++ === 0) await gate;
        return current ? { ok: true, tokenHash: 'sha256:old' } : { ok: false, close: 4403, reason: 'bridge token revoked' };
      },
      log, waitMs: 1_000, maxWaiting: 10,
    });
    cleanup.push(() => hub.close());
    const server = createServer();
    hub.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/bridge`);
    ws.on('error', () => undefined);
    cleanup.push(async () => ws.terminate());
    const frames: string[] = [];
    ws.on('message', (raw) => frames.push(String(raw)));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify({ type: 'hello', version: 1, tenantId: 'acme', token: 'stolen' }));
    while (checks === 0) await new Promise((r) => setTimeout(r, 5));
    // the revocation lands while the hello is being checked: no socket is attached yet to close
    revoked = true;
    await hub.recheck('acme', async () => !revoked);
    release();
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still attached after 5 s'), 5_000))])).toBe(4403);
    expect(frames.some((f) => f.includes('welcome'))).toBe(false);
    expect(hub.connected('acme')).toBe(false);
  });

  it("a superseded waiting request's wait timer does not orphan the newer attempt", async () => {
    const { hub, url } = await start(300);
    cleanup.push(() => hub.close());
    const runtime = hub.runtimeFor('acme');
    const first = runtime.reply(request('e1'), { signal: new AbortController().signal, ...noop }).catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 100));
    const second = runtime.reply(request('e1'), { signal: new AbortController().signal, ...noop });
    expect(await first).toMatch(/superseded/);
    // the bridge connects before either wait ends and answers after the first attempt's wait would have ended
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, tenantId: 'acme', token: 't' })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; id: string };
      if (frame.type === 'request') setTimeout(() => ws.send(JSON.stringify({ type: 'done', id: frame.id, text: 'answer' })), 400);
    });
    cleanup.push(async () => ws.close());
    const outcome = await Promise.race([second, new Promise((r) => setTimeout(() => r('never settled'), 2_000))]);
    expect(outcome).toBe('answer');
  });
});
