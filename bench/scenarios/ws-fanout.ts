import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocketServer } from 'ws';
import { createInProcessLiveFeed } from '../../adapters/live/in-process.ts';
import { createPusher } from '../../adapters/ws/pusher.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startStack } from '../../runtime/stack.ts';
import { round, seconds } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import pg from 'pg';

const SOCKETS = Number(process.env.BENCH_WS_SOCKETS ?? 5_000);
const INTERVAL_MS = 100;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers };
};

const ask = <T>(child: ChildProcess, command: object): Promise<T> =>
  new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(command);
  });

type Stats = { count: number; p50: number; p99: number; max: number; closedEarly: number };

/** Sends `tick(t0)` every 100 ms for the scenario's seconds, then collects the clients' latencies. */
const drive = async (clients: ChildProcess, tick: (t0: number) => Promise<unknown> | void) => {
  await ask(clients, { cmd: 'reset' });
  const events = Math.max(10, Math.round((seconds(10) * 1000) / INTERVAL_MS));
  const started = Date.now();
  const cpu = process.cpuUsage();
  const ticks: Promise<unknown>[] = [];
  let failed = 0;
  for (let i = 0; i < events; i++) {
    const due = started + i * INTERVAL_MS;
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    ticks.push(Promise.resolve(tick(Date.now())).catch(() => failed++));
  }
  await Promise.all(ticks);
  if (failed > 0) throw new Error(`${failed} of ${events} events could not be sent`);
  await new Promise((r) => setTimeout(r, 2_000)); // the last event's deliveries
  const used = process.cpuUsage(cpu);
  return { events, cpuMsPerEvent: (used.user + used.system) / 1000 / events, stats: await ask<Stats>(clients, { cmd: 'stats' }) };
};

/** The same frame shape the pusher sends for a MessagePosted, with the send time in its text. */
const bareFrame = (t0: number) =>
  JSON.stringify({
    kind: 'event', position: String(t0), id: randomUUID(), streamId: 'conversation-bench.c1', revision: 1, type: 'MessagePosted',
    data: { messageId: randomUUID(), role: 'agent', channel: 'api', text: `sent at ${t0}`, at: new Date(t0).toISOString() },
    actor: 'agent:bench', correlationId: randomUUID(), recordedAt: new Date(t0).toISOString(),
  });

/**
 * 5,000 sockets on one process, one event every 100 ms to all of them. Measured: the delay from
 * the event's `recordedAt` (the store's clock in the append's transaction) through the in-process
 * bus, the tenant feed's store read and `view` decode, one serialisation and 5,000 sends, to each
 * client's receipt (the command through the shell before it is not counted).
 * Baseline in the same run: a bare `ws` server sending a frame of the same shape to the same number
 * of sockets in a loop (no store, no bus, no auth). Memory per socket: the process's growth (after
 * GC) from before the sockets connected to after, divided by their number. `cpuMsPerEvent`: this
 * process's CPU per event (the pusher's includes the append, the inline projector and the bus),
 * a figure the machine's other load moves less than latency. The clients run in a child process.
 */
export const wsFanoutBench = async (url: string): Promise<BenchResult> => {
  const clients = fork(new URL('./ws-fanout-clients.ts', import.meta.url), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  try {
    // baseline: a bare ws server
    const server = http.createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const bareUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const bareBefore = memory();
    const bareConnected = await ask<{ connected: number; failed: number }>(clients, { cmd: 'connect', url: bareUrl, count: SOCKETS, protocols: [] });
    const bareAfter = memory();
    const bare = await drive(clients, (t0) => {
      const frame = bareFrame(t0);
      for (const ws of wss.clients) ws.send(frame);
    });
    await ask(clients, { cmd: 'close' });
    wss.close();
    server.close();

    // the pusher on the real stack
    const schemas = { events: `bench_ws_ev_${process.pid}`, readModels: `bench_ws_rm_${process.pid}` };
    const log = createLogger('error');
    const stack = await startStack({ databaseUrl: url, schemas, log, env: { JWT_SECRET: 'bench-secret-that-is-at-least-32-bytes-long' } });
    try {
      const operator = (path: string, body: object) =>
        fetch(`${stack.baseUrl}/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${stack.operatorKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
          (r) => r.json() as Promise<Record<string, string>>,
        );
      const tenantId = `bench-${randomUUID().slice(0, 8)}`;
      await operator('/tenants', { slug: tenantId, name: 'Bench', tier: 'enterprise' });
      const { key, position } = await operator(`/tenants/${tenantId}/api-keys`, { label: 'bench' });
      await fetch(`${stack.baseUrl}/api/v1/tenants/${tenantId}?minPosition=${position}`, { headers: { authorization: `Bearer ${stack.operatorKey}` } });
      const caller = { tenantId: asTenantId(tenantId), actor: 'agent:bench', correlationId: randomUUID() };
      // appends every 100 ms go round 20 conversations, so a slow append never conflicts with the next
      const conversations = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${stack.baseUrl}/api/v1/conversations`, {
            method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}',
          }).then((r) => r.json() as Promise<{ conversationId: string }>),
        ),
      );
      let turn = 0;
      const pusher = await createPusher({
        bus: stack.storage.bus, store: stack.storage.store, codec: stack.storage.codec,
        authenticator: stack.platform.api.auth.authenticator, live: createInProcessLiveFeed(), log,
      });
      pusher.attach(stack.http.server);
      const before = memory();
      const connected = await ask<{ connected: number; failed: number }>(clients, {
        cmd: 'connect', url: `${stack.baseUrl.replace(/^http/, 'ws')}/ws/tenant/${tenantId}`, count: SOCKETS, protocols: ['openclaw.v1', `bearer.${key}`],
      });
      await new Promise((r) => setTimeout(r, 1_000)); // hellos and catch-ups settle
      const after = memory();
      const pushed = await drive(clients, (t0) =>
        postMessage(stack.platform.ports, caller, conversations[turn++ % conversations.length]!.conversationId, { text: `sent at ${t0}` }, { role: 'agent' }),
      );
      await ask(clients, { cmd: 'close' });
      await pusher.close();
      const expected = pushed.events * connected.connected;
      const perSocket = (a: { heap: number; rss: number }, b: { heap: number; rss: number }, n: number) => ({
        heap: (b.heap - a.heap) / n,
        rss: (b.rss - a.rss) / n,
      });
      const mem = perSocket(before, after, Math.max(1, connected.connected));
      const bareMem = perSocket(bareBefore, bareAfter, Math.max(1, bareConnected.connected));
      return {
        scenario: 'ws-fanout',
        metric: 'p99 delivery latency',
        value: pushed.stats.p99,
        unit: 'ms',
        p50: pushed.stats.p50,
        p99: pushed.stats.p99,
        baseline: { name: 'bare ws server sending the same frame shape to as many sockets (p99 ms)', value: bare.stats.p99 },
        ratio: round(pushed.stats.p99 / Math.max(1, bare.stats.p99)),
        notes:
          `${connected.connected} sockets (${connected.failed} failed to connect), ${pushed.events} events every ${INTERVAL_MS} ms; ` +
          `delivered ${pushed.stats.count} of ${expected}; target p99 <= 200 ms; latency from the event's recordedAt to receipt in a client process`,
        extra: {
          sockets: connected.connected,
          deliveredShare: round(pushed.stats.count / Math.max(1, expected), 4),
          maxMs: pushed.stats.max,
          closedEarly: pushed.stats.closedEarly,
          heapBytesPerSocket: Math.round(mem.heap),
          rssBytesPerSocket: Math.round(mem.rss),
          cpuMsPerEvent: round(pushed.cpuMsPerEvent),
          baselineCpuMsPerEvent: round(bare.cpuMsPerEvent),
          baselineP50Ms: bare.stats.p50,
          baselineMaxMs: bare.stats.max,
          baselineHeapBytesPerSocket: Math.round(bareMem.heap),
          baselineRssBytesPerSocket: Math.round(bareMem.rss),
          slowConsumersCutOff: pusher.stats().cutOff,
        },
      };
    } finally {
      await stack.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schemas.events} CASCADE; DROP SCHEMA IF EXISTS ${schemas.readModels} CASCADE`);
      await admin.end();
    }
  } finally {
    clients.kill();
  }
};
