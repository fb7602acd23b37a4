import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import express from 'express';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import { round, seconds } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { provisionTenants, settle, startApiStack, writeTempModule } from './api-stack.ts';

/** The part of autocannon 9's result this scenario reads (the package ships no type declarations). */
export interface AutocannonResult {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly '2xx': number;
  readonly statusCodeStats: Record<string, { count: number }>;
  readonly latency: { readonly p50: number; readonly p99: number; readonly average: number; readonly max: number };
  readonly requests: { readonly average: number; readonly total: number };
}
export type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
export const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const CONNECTIONS = 64;
const TENANTS = 64; // one tenant (and JWT) per connection, see notes
const CONVERSATIONS = 8; // per tenant: no single hot stream serialises a connection's load
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const BODY = JSON.stringify({ text: 'hello agent, please summarise the build status of the website and list the open tasks' });

/**
 * autocannon in a worker thread (so the load generator does not share the server's event loop),
 * each connection given its own request list by a plain-JS `setupClient` module.
 */
const cannon = async (origin: string, setupClient: string, duration: number, excludeErrorStats: boolean) =>
  autocannon({ url: origin, connections: CONNECTIONS, duration, workers: 1, setupClient, excludeErrorStats });

/** A bare express 5 app: parses the same JSON body on the same path and answers 201 `{}`. */
const startBareExpress = async () => {
  const app = express();
  app.disable('x-powered-by');
  app.post('/api/v1/conversations/:conversationId/messages', express.json({ limit: '1mb' }), (_req, res) => {
    res.status(201).json({});
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
};

/**
 * The tenants, conversations and JWTs of the load, and autocannon's setup module: connection k
 * posts, round-robin, to the conversations of tenant k with that tenant's JWT.
 */
export const messageLoad = async (stack: Awaited<ReturnType<typeof startApiStack>>, prefix: string) => {
  const tenants = await provisionTenants(stack, { tenants: TENANTS, conversations: CONVERSATIONS, tier: 'enterprise', prefix });
  const perConnection = tenants.map((t) =>
    t.conversationIds.map((id) => ({
      method: 'POST',
      path: `/api/v1/conversations/${id}/messages`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
      body: BODY,
    })),
  );
  return writeTempModule(
    'setup-client.cjs',
    `'use strict';\nconst lists = ${JSON.stringify(perConnection)};\nlet next = 0;\nmodule.exports = (client) => { client.setRequests(lists[next++ % lists.length]); };\n`,
  );
};

/**
 * POST /api/v1/conversations/:id/messages with a JWT, 64 connections for 20 s, on the real stack
 * (PostgreSQL event store + projector + read models); baseline: a bare express route parsing the
 * same body, same requests, same autocannon settings, in the same run.
 */
export const apiCommandBench = async (url: string): Promise<BenchResult> => {
  const secs = seconds(20);
  // The load is spread over 64 tenants anyway; the raised limit only keeps a fast run from meeting 429s.
  const stack = await startApiStack(url, { OPERATOR_REQUESTS_PER_MINUTE: '1000000', TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000' });
  let setup: Awaited<ReturnType<typeof writeTempModule>> | undefined;
  try {
    setup = await messageLoad(stack, 'bench-cmd');

    const bare = await startBareExpress();
    let baseline: AutocannonResult;
    try {
      await cannon(bare.url, setup.file, WARMUP_SECONDS, false);
      baseline = await cannon(bare.url, setup.file, secs, false);
    } finally {
      await bare.close();
    }

    await cannon(stack.baseUrl, setup.file, WARMUP_SECONDS, true);
    await settle(stack);
    const ours = await cannon(stack.baseUrl, setup.file, secs, true);
    await settle(stack);

    const oursPerSecond = ours['2xx'] / ours.duration;
    const baselinePerSecond = baseline['2xx'] / baseline.duration;
    const statuses = Object.entries(ours.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, { count }]) => `${code}×${count}`)
      .join(', ');
    const perTenantPerMinute = (oursPerSecond / TENANTS) * 60;
    return {
      scenario: 'api-command',
      metric: 'post_message_requests_per_second',
      value: round(oursPerSecond, 0),
      unit: 'requests/s',
      p50: round(ours.latency.p50),
      p99: round(ours.latency.p99),
      baseline: { name: 'bare express 5 route parsing the same JSON body (requests/s)', value: round(baselinePerSecond, 0) },
      ratio: round(oursPerSecond / baselinePerSecond),
      notes: [
        `autocannon ${CONNECTIONS} connections, ${secs}s each after a ${WARMUP_SECONDS}s warm-up, load generator in a worker thread of the same process`,
        `ours: ${ours['2xx']} × 201 (only 2xx counted), non-2xx ${ours.non2xx}${statuses ? ` (${statuses})` : ''}, errors ${ours.errors}, timeouts ${ours.timeouts}`,
        `baseline: p50 ${round(baseline.latency.p50)} ms p99 ${round(baseline.latency.p99)} ms, non-2xx ${baseline.non2xx}, errors ${baseline.errors}`,
        `setup: PostgreSQL store, pool ${stack.poolSize} each for events and read models, projector inline on the API's event loop (the cheapest on 2 cores: a projector thread or process makes smaller batches and more database work per event); ${TENANTS} enterprise tenants, one JWT per connection, ${CONVERSATIONS} conversations each posted to round-robin`,
        `rate limits: counted per request as always, the enterprise limit (${TIER_LIMITS.enterprise.requestsPerMinute}/min) raised with TIER_REQUESTS_PER_MINUTE so that no run meets a 429; ${round(perTenantPerMinute, 0)} requests/min per tenant`,
      ].join('; '),
    };
  } finally {
    await setup?.remove();
    await stack.close();
  }
};

interface PhaseServer {
  readonly baseUrl: string;
  readonly setupFile: string;
  settle(): Promise<void>;
  /** Spans exported and CPU time (user + system, µs) this process used so far. */
  sample(): Promise<{ spans: number; queries: number; cpuMicros: number }>;
  stop(): Promise<void>;
}

/** The stack of one phase in a process of its own (api-command-server.ts), tracing on or off from its start. */
const forkPhaseServer = async (url: string, tracing: boolean): Promise<PhaseServer> => {
  const child = fork(path.resolve(import.meta.dirname, 'api-command-server.ts'), [], {
    env: { ...process.env, BENCH_TRACING: tracing ? 'on' : 'off', BENCH_CHILD_DATABASE_URL: url },
    // BENCH_NODE_FLAGS: V8/Node flags for the server processes (e.g. --trace-gc-nvp); BENCH_PROFILE_DIR: a CPU profile of each there
    execArgv: [...process.execArgv, ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [])],
    // the child's stdout would mix with the result lines: both of its streams go to stderr
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      void exited.then((code) => reject(new Error(`bench server exited with ${code} before '${type}'`)));
    });
  const ready = await next('ready');
  return {
    baseUrl: String(ready.baseUrl),
    setupFile: String(ready.setupFile),
    async settle() {
      const settled = next('settled');
      child.send({ type: 'settle' });
      await settled;
    },
    async sample() {
      const answer = next('sample');
      child.send({ type: 'sample' });
      const { spans, queries, cpuMicros } = await answer;
      return { spans: Number(spans), queries: Number(queries), cpuMicros: Number(cpuMicros) };
    },
    async stop() {
      child.send({ type: 'stop' });
      await exited;
    },
  };
};

/** [off, on], [on, off], [off, on], …: each mode as often first as second in its pair, so the order favours neither. */
const phasePairs = (rounds: number): boolean[][] => Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? [false, true] : [true, false]));

/** How the two modes share the machine (see apiCommandTracingBench). */
type Schedule = 'concurrent' | 'sequential' | 'interleaved';
const SCHEDULE_NAMES: Record<Schedule, string> = {
  concurrent: 'loaded at the same time',
  sequential: 'one phase after the other, alternating',
  interleaved: 'one loaded at a time, in alternating slices',
};

/**
 * The same load as `api-command`, with tracing off (no SDK: the OpenTelemetry API's non-recording
 * spans) and on (tracing as production starts it when OTEL_* asks for it: NodeSDK with every
 * instrumentation and our own spans, a batch span processor, here exporting to an in-process
 * no-op). The SDK cannot be taken out of a process, and a process that ran a load first is not the
 * same as a fresh one (a control with tracing off in both phases of one process gave 1.09), so each
 * mode runs in a fresh process of its own (its own stack and tenants); autocannon runs here, in
 * worker threads. BENCH_TRACING_SCHEDULE says how the two share the machine (BENCH_ROUNDS rounds, default 2):
 * - `concurrent` (the default): both processes loaded at the same time. Whatever else runs slows
 *   both alike, and the scheduler shares the CPU between them, so the ratio of their requests/s is
 *   the ratio of what a request costs while they contend (the slower one also gathers fewer appends
 *   into each group commit: see the queries per request);
 * - `interleaved`: both processes up, one loaded at a time in slices of BENCH_SLICE_SECONDS
 *   (default 5) alternating off, on, on, off, …, 20 s per mode and round: each has the machine to
 *   itself and slow drift falls on both alike, but a burst of other load lands on one mode, so on
 *   this machine a run's figure spreads far more (−9 to +26 % in one hour) than a concurrent one's;
 * - `sequential` (or BENCH_TRACING_SEQUENTIAL=1): one fresh process per phase, one after the other,
 *   alternating off/on, on/off (each phase 20 s, so slow drift weighs more than interleaved).
 * BENCH_TRACING_CONTROL=1 leaves tracing off in the "on" process too: its ratio is the bench's own bias.
 */
export const apiCommandTracingBench = async (url: string): Promise<BenchResult> => {
  const secs = seconds(20);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  const control = process.env.BENCH_TRACING_CONTROL === '1';
  const schedule: Schedule = process.env.BENCH_TRACING_SEQUENTIAL === '1' ? 'sequential' : ((process.env.BENCH_TRACING_SCHEDULE as Schedule | undefined) ?? 'concurrent');
  if (!(schedule in SCHEDULE_NAMES)) throw new Error(`BENCH_TRACING_SCHEDULE: expected ${Object.keys(SCHEDULE_NAMES).join(', ')} (got ${schedule})`);
  const sliceSeconds = Math.max(1, Math.min(secs, Number(process.env.BENCH_SLICE_SECONDS ?? 5)));
  const totals = { off: { ok: 0, duration: 0, cpu: 0, requests: 0, queries: 0 }, on: { ok: 0, duration: 0, cpu: 0, requests: 0, queries: 0 } };
  const phases: string[] = [];
  let last: AutocannonResult | undefined;
  let spans = 0;
  /** interleaved: on/off of each adjacent pair of slices (the spread a single run's figure has) */
  const sliceRatios: number[] = [];
  type Running = { on: boolean; server: PhaseServer };
  /** Loads `loaded` (all at once) for `duration` seconds and adds what each did to the totals; returns the phase's line. */
  const measure = async (loaded: Running[], duration: number): Promise<string> => {
    const before = await Promise.all(loaded.map(({ server }) => server.sample()));
    const results = await Promise.all(loaded.map(({ server }) => cannon(server.baseUrl, server.setupFile, duration, true)));
    await Promise.all(loaded.map(({ server }) => server.settle()));
    const after = await Promise.all(loaded.map(({ server }) => server.sample()));
    return loaded
      .map(({ on }, i) => {
        const result = results[i]!;
        const cpu = after[i]!.cpuMicros - before[i]!.cpuMicros;
        const total = on ? totals.on : totals.off;
        total.ok += result['2xx'];
        total.duration += result.duration;
        total.cpu += cpu;
        total.requests += result.requests.total;
        total.queries += after[i]!.queries - before[i]!.queries;
        if (on) {
          last = result;
          spans += after[i]!.spans - before[i]!.spans;
        }
        return `${on ? 'on' : 'off'} ${round(result['2xx'] / result.duration, 0)}/s (${result.requests.total} requests) ${round(cpu / result.requests.total, 0)} µs CPU/request p99 ${round(result.latency.p99)} ms non-2xx ${result.non2xx}`;
      })
      .join(' with ');
  };
  // sequential: one phase at a time, in the pairs' order; otherwise each pair's two processes are up together
  const groups = schedule === 'sequential' ? phasePairs(rounds).flat().map((on) => [on]) : phasePairs(rounds);
  for (const group of groups) {
    const servers = await Promise.all(group.map(async (on) => ({ on, server: await forkPhaseServer(url, on && !control) })));
    try {
      await Promise.all(servers.map(({ server }) => cannon(server.baseUrl, server.setupFile, WARMUP_SECONDS, true)));
      await Promise.all(servers.map(({ server }) => server.settle()));
      if (schedule !== 'interleaved') phases.push(await measure(servers, secs));
      else {
        // the pair's order (off, on or on, off) then its mirror, and again: a linear drift favours neither
        const slices = Math.max(1, Math.round(secs / sliceSeconds));
        for (let k = 0; k < slices; k++) {
          const order = k % 2 === 0 ? servers : [...servers].reverse();
          const rate: Record<string, number> = {};
          for (const one of order) {
            const total = one.on ? totals.on : totals.off;
            const [ok, duration] = [total.ok, total.duration];
            phases.push(await measure([one], sliceSeconds));
            rate[one.on ? 'on' : 'off'] = (total.ok - ok) / (total.duration - duration);
          }
          sliceRatios.push(rate.on! / rate.off!);
        }
      }
    } finally {
      await Promise.all(servers.map(({ server }) => server.stop()));
    }
  }
  const offPerSecond = totals.off.ok / totals.off.duration;
  const onPerSecond = totals.on.ok / totals.on.duration;
  // the server process's CPU time per request (its projector included): what a request costs,
  // much less disturbed by other load on the machine than requests/s
  const offCpu = totals.off.cpu / totals.off.requests;
  const onCpu = totals.on.cpu / totals.on.requests;
  const spansPerRequest = totals.on.requests ? round(spans / totals.on.requests) : 0;
  return {
    scenario: control ? 'api-command-tracing-control' : 'api-command-tracing',
    metric: 'post_message_requests_per_second_traced',
    value: round(onPerSecond, 0),
    unit: 'requests/s',
    p50: round(last!.latency.p50),
    p99: round(last!.latency.p99),
    baseline: { name: `the same stack and load with tracing off, ${SCHEDULE_NAMES[schedule]} (requests/s)`, value: round(offPerSecond, 0) },
    ratio: round(onPerSecond / offPerSecond),
    notes: [
      control ? 'CONTROL: tracing off in every phase (the ratio is the bench\'s own bias)' : `overhead ${round((1 - onPerSecond / offPerSecond) * 100)} % (target ≤ 10 %)`,
      `server CPU per request: off ${round(offCpu, 0)} µs, on ${round(onCpu, 0)} µs (+${round((onCpu / offCpu - 1) * 100)} %)`,
      `spans per request (traced phases, measured part) ${spansPerRequest}`,
      // the append batcher's group commit: fewer queries a request when more appends wait together
      `pg queries per request: off ${round(totals.off.queries / totals.off.requests)}, on ${round(totals.on.queries / totals.on.requests)}`,
      ...(sliceRatios.length > 0 ? [`on/off of each pair of adjacent slices: ${sliceRatios.map((r) => round(r)).join(' ')} (median ${round([...sliceRatios].sort((a, b) => a - b)[Math.floor(sliceRatios.length / 2)]!)})`] : []),
      `${schedule === 'concurrent' ? 'rounds (both processes loaded at once)' : 'phases in order'}: ${phases.join(', ')}`,
      `each mode a fresh process with its own stack and ${TENANTS} tenants, autocannon ${CONNECTIONS} connections per process in a worker thread of the parent, ${schedule === 'interleaved' ? `${Math.max(1, Math.round(secs / sliceSeconds))} slices of ${sliceSeconds}s per mode and round` : `${secs}s`} after a ${WARMUP_SECONDS}s warm-up`,
    ].join('; '),
    extra: { spans_per_request: spansPerRequest, cpu_us_per_request_off: round(offCpu, 0), cpu_us_per_request_on: round(onCpu, 0), cpu_ratio: round(onCpu / offCpu) },
  };
};
