import http from 'node:http';
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
const WARMUP_SECONDS = 2;
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
const messageLoad = async (stack: Awaited<ReturnType<typeof startApiStack>>, prefix: string) => {
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

/** A span exporter that drops everything: what tracing costs in the process, without a collector's. */
const noopExporter = {
  export: (_spans: unknown[], done: (result: { code: 0 }) => void) => done({ code: 0 }),
  shutdown: async () => undefined,
};

/**
 * The same load as `api-command`, first with tracing off (no SDK: the OpenTelemetry API's
 * non-recording spans), then on (NodeSDK with the http, express, pg and kafkajs instrumentations
 * and our own spans, exporting to an in-process no-op), same stack, same run. Off runs first:
 * the SDK cannot be taken out of a process once its instrumentations patched the modules.
 */
export const apiCommandTracingBench = async (url: string): Promise<BenchResult> => {
  const secs = seconds(20);
  const stack = await startApiStack(url, { OPERATOR_REQUESTS_PER_MINUTE: '1000000', TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000' });
  let setup: Awaited<ReturnType<typeof writeTempModule>> | undefined;
  let tracing: { shutdown(): Promise<void> } | undefined;
  try {
    setup = await messageLoad(stack, 'bench-trace');
    await cannon(stack.baseUrl, setup.file, WARMUP_SECONDS, true);
    await settle(stack);
    const off = await cannon(stack.baseUrl, setup.file, secs, true);
    await settle(stack);

    const { startTracing } = await import('../../runtime/tracing.ts');
    tracing = startTracing({}, 'bench', noopExporter, 'batch'); // batched, as the OTLP exporter is in production
    // the modules are loaded already: asking for them again lets the instrumentations patch them
    const require = createRequire(import.meta.url);
    for (const name of ['http', 'pg', 'express', 'kafkajs']) require(name);
    await cannon(stack.baseUrl, setup.file, WARMUP_SECONDS, true);
    await settle(stack);
    const on = await cannon(stack.baseUrl, setup.file, secs, true);
    await settle(stack);

    const offPerSecond = off['2xx'] / off.duration;
    const onPerSecond = on['2xx'] / on.duration;
    return {
      scenario: 'api-command-tracing',
      metric: 'post_message_requests_per_second_traced',
      value: round(onPerSecond, 0),
      unit: 'requests/s',
      p50: round(on.latency.p50),
      p99: round(on.latency.p99),
      baseline: { name: 'the same stack and load with tracing off (requests/s)', value: round(offPerSecond, 0) },
      ratio: round(onPerSecond / offPerSecond),
      notes: [
        `overhead ${round((1 - onPerSecond / offPerSecond) * 100)} % (target ≤ 10 %)`,
        `off: p50 ${round(off.latency.p50)} ms p99 ${round(off.latency.p99)} ms, non-2xx ${off.non2xx}; on: non-2xx ${on.non2xx}`,
        `autocannon ${CONNECTIONS} connections, ${secs}s each after a ${WARMUP_SECONDS}s warm-up; off first, then on (the SDK cannot be removed once started)`,
      ].join('; '),
    };
  } finally {
    await setup?.remove();
    await stack.close();
    await tracing?.shutdown();
  }
};
