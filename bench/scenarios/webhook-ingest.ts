import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { startTelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { autocannon } from './api-command.ts';
import type { AutocannonResult } from './api-command.ts';
import { call, provisionTenants, settle, startApiStack, writeTempModule } from './api-stack.ts';

const CONNECTIONS = 32;
const STEP_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const RATES = [100, 200, 400, 600, 800, 1_000, 1_300, 1_600, 2_000, 2_500, 3_200, 4_000, 5_000, 6_500, 8_000];
const P99_LIMIT_MS = 50;
const CHATS = 500;

/** Requests with fresh update ids from a counter (one worker thread: shared by its connections); chats round-robin. */
const setupSource = (path: string, secret: string, firstUpdateId: number) => `'use strict';
let next = ${firstUpdateId};
const body = (id) => JSON.stringify({ update_id: id, message: { message_id: id, date: 1767225600,
  chat: { id: 1000 + (id % ${CHATS}), type: 'private', first_name: 'Ada' },
  from: { id: 1000 + (id % ${CHATS}), is_bot: false, first_name: 'Ada', language_code: 'en' },
  text: 'hello, can you tell me when the website build will be done? ' + id } });
module.exports = (client) => {
  client.setRequests([{ method: 'POST', path: ${JSON.stringify(path)},
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': ${JSON.stringify(secret)} },
    setupRequest: (req) => { req.body = body(next++); return req; } }]);
};
`;

/** A bare express 5 app: the same path, parses the JSON and answers 200. */
const startBare = async () => {
  const app = express();
  app.disable('x-powered-by');
  app.post('/webhooks/telegram/:slug', express.json({ limit: '1mb' }), (_req, res) => {
    res.status(200).json({ ok: true });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
};

type Step = { rate: number; achieved: number; p50: number; p99: number; non2xx: number };

/** Raises the offered rate until p99 passes the limit or the server falls behind; the last rate that held is the result. */
const ladder = async (origin: string, setupFile: string): Promise<{ best: Step | undefined; steps: Step[] }> => {
  const steps: Step[] = [];
  let best: Step | undefined;
  let misses = 0;
  // warm-up, not counted: connections, JIT, the first conversations
  await autocannon({ url: origin, connections: CONNECTIONS, overallRate: 200, duration: 3, workers: 1, setupClient: setupFile });
  for (const rate of RATES) {
    const r: AutocannonResult = await autocannon({ url: origin, connections: CONNECTIONS, overallRate: rate, duration: STEP_SECONDS, workers: 1, setupClient: setupFile });
    const step = { rate, achieved: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors + r.timeouts };
    steps.push(step);
    const held = step.p99 <= P99_LIMIT_MS && step.non2xx === 0 && step.achieved >= rate * 0.9;
    // one miss may be noise on a shared machine; two in a row end the ladder
    if (!held && ++misses >= 2) break;
    if (held) {
      misses = 0;
      best = step;
    }
  }
  return { best, steps };
};

/**
 * Telegram updates (a text each, fresh update_id, 500 chats) POSTed to the webhook at rising offered rates
 * (autocannon, 32 connections, 4 s a step); the answer comes after the append, so latency is request →
 * appended. Result: the highest rate whose p99 ≤ 50 ms with every request 200. Baseline: the same requests
 * to a bare express route that only parses the JSON, same ladder, same run.
 */
export const webhookIngestBench = async (url: string): Promise<BenchResult> => {
  const double = await startTelegramDouble();
  const stack = await startApiStack(url, {
    TELEGRAM_API_ROOT: double.apiRoot,
    OPERATOR_REQUESTS_PER_MINUTE: '1000000',
    TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000',
  });
  const setups: { remove(): Promise<void> }[] = [];
  try {
    const [tenant] = await provisionTenants(stack, { tenants: 1, conversations: 0, tier: 'enterprise', prefix: 'bench-hook' });
    const bot = double.addBot();
    await call(stack.baseUrl, tenant!.token, 'POST', '/channels/telegram', 200, { token: bot.token });
    const { secretToken } = double.webhookOf(bot.token)!;
    const path = `/webhooks/telegram/${tenant!.tenantId}`;
    const oursSetup = await writeTempModule('hook-ours.cjs', setupSource(path, secretToken!, 1));
    const bareSetup = await writeTempModule('hook-bare.cjs', setupSource(path, secretToken!, 1));
    setups.push(oursSetup, bareSetup);

    const bare = await startBare();
    let baseline: Awaited<ReturnType<typeof ladder>>;
    try {
      baseline = await ladder(bare.url, bareSetup.file);
    } finally {
      await bare.close();
    }
    const ours = await ladder(stack.baseUrl, oursSetup.file);
    await settle(stack);
    const head = await stack.storage.store.headPosition();
    const describe = (steps: Step[]) => steps.map((s) => `${s.rate}/s→${round(s.achieved, 0)}/s p99 ${round(s.p99)}ms${s.non2xx ? ` bad ${s.non2xx}` : ''}`).join(', ');
    const value = ours.best?.rate ?? 0;
    const base = baseline.best?.rate ?? 0;
    return {
      scenario: 'webhook-ingest',
      metric: 'telegram_updates_per_second_at_p99_50ms',
      value,
      unit: 'updates/s',
      p50: ours.best ? round(ours.best.p50) : null,
      p99: ours.best ? round(ours.best.p99) : null,
      baseline: { name: 'bare express 5 route parsing the same JSON (updates/s at p99 ≤ 50 ms)', value: base },
      ratio: base > 0 ? round(value / base) : 0,
      notes: [
        `offered-rate ladder, autocannon ${CONNECTIONS} connections in a worker thread, ${STEP_SECONDS}s a step; after a 3 s warm-up at 200/s; two failed steps in a row end a ladder; a step holds when p99 ≤ ${P99_LIMIT_MS} ms, every answer 200 and ≥ 90% of the offered rate is served`,
        `ours: ${describe(ours.steps)}`,
        `baseline: ${describe(baseline.steps)}${baseline.best?.rate === RATES[RATES.length - 1] ? ' (the ladder ends here: the baseline was not pushed to its limit)' : ''}`,
        `each update: secret check, conversation of its chat (${CHATS} chats, started on first contact), the user message appended with update_id as idempotency key; PostgreSQL store, projector inline; log head after the run ${head}`,
      ].join('; '),
    };
  } finally {
    for (const s of setups) await s.remove();
    await stack.close();
    await double.close();
  }
};
