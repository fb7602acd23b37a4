import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { chatConversation, startBotsHarness, tenantClient, waitFor } from './support.ts';
import type { BotsHarness } from './support.ts';

/** A TCP forwarder on `port` (0: any) to the port `target()` names when a connection comes. */
const forwarder = (port: number, target: () => number) =>
  new Promise<{ port: number; close(): Promise<void> }>((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect(target(), '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => (client.destroy(), upstream.destroy()));
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => {
          for (const socket of sockets) socket.destroy();
          return new Promise<void>((done) => server.close(() => done()));
        },
      }),
    );
  });

/**
 * A listener on `port` that never accepts (its process blocks), its queue filled: a connection to it
 * waits for an answer that never comes, as across a network partition. Nothing sent to it can arrive.
 */
const partition = async (port: number): Promise<{ heal(): Promise<void> }> => {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', `const s = require('net').createServer(); s.listen({ port: ${port}, host: '127.0.0.1', backlog: 1 }, () => { process.stdout.write('listening\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve, reject) => (child.stdout!.once('data', resolve), child.once('exit', reject)));
  const fillers = [1, 2, 3].map(() => net.connect(port, '127.0.0.1').on('error', () => undefined));
  return {
    async heal() {
      for (const filler of fillers) filler.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
};

describe('a Telegram answer whose request never left (the Bot API unreachable for a while)', () => {
  let h: BotsHarness;
  let gate: { port: number; close(): Promise<void> };
  let telegramPort = 0;
  beforeAll(async () => {
    gate = await forwarder(0, () => telegramPort);
    const dir = mkdtempSync(path.join(tmpdir(), 'bots-partition-'));
    h = await startBotsHarness({
      env: ({ telegram }) => {
        telegramPort = Number(new URL(telegram.apiRoot).port);
        return { TELEGRAM_API_ROOT: `http://127.0.0.1:${gate.port}/`, TELEGRAM_TIMEOUT_MS: '500', BOTS_SEND_JOURNAL: path.join(dir, 'bots-send.journal') };
      },
    });
  }, 120_000);
  afterAll(async () => {
    await gate?.close();
    await h?.close();
  });

  it('is sent once the platform is reachable again, not counted as sent', async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: bot.token }), 200);
    expect((await h.telegram.userSays(bot.token, { chatId: 77, text: 'are you there?' })).status).toBe(200);
    const conversationId = await chatConversation(me, 'telegram', 77);

    // the Bot API stops answering connections: the answer's send times out before a byte of it left
    await gate.close();
    const cut = await partition(gate.port);
    try {
      ok(await me.post(`/conversations/${conversationId}/messages`, { text: 'Yes, here I am.', role: 'agent' }), 201);
      await waitFor('the send to time out', () => h.logs.some((line) => line.includes('did not answer sendMessage in time')), 20_000);
    } finally {
      await cut.heal();
    }
    gate = await forwarder(gate.port, () => telegramPort);

    // the bus tries again: the answer arrives, once
    const sent = await waitFor('the answer at the double', () => (h.telegram.sent(bot.token).length > 0 ? h.telegram.sent(bot.token) : undefined), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(h.telegram.sent(bot.token).map((m) => [String(m.chatId), m.text])).toEqual([['77', 'Yes, here I am.']]);
    expect(sent).toHaveLength(1);
    expect(h.logs.filter((line) => line.includes('counted as sent'))).toEqual([]);
    expect(h.logs.some((line) => line.includes('failed before its request left'))).toBe(true);
  }, 60_000);
});
