/**
 * `npm run bench -- <scenario…>`: one JSON line per scenario on stdout, the same in bench/results/.
 * Uses the same local PostgreSQL as the tests (BENCH_DATABASE_URL or TEST_DATABASE_URL to override);
 * relay-throughput uses KAFKA_BROKERS when it answers, else starts a broker of its own (infra/kafka).
 */
import { apiCommandBench, apiCommandTracingBench } from './scenarios/api-command.ts';
import { commandLongStream } from './scenarios/command-long-stream.ts';
import { messageToReplyBench } from './scenarios/message-to-reply.ts';
import { projectionLagBench } from './scenarios/projection-lag.ts';
import { rebuildBench } from './scenarios/rebuild.ts';
import { sagaThroughputBench } from './scenarios/saga-throughput.ts';
import { tenantReadyBench } from './scenarios/tenant-ready.ts';
import { webhookIngestBench } from './scenarios/webhook-ingest.ts';
import { relayThroughputBench } from './scenarios/relay-throughput.ts';
import { storeAppend, storeAppendEmbedded } from './scenarios/store-append.ts';
import { auditExportBench, auditVerifyBench } from './scenarios/audit.ts';
import { wsFanoutBench } from './scenarios/ws-fanout.ts';
import type { BenchResult } from './lib.ts';
import { report, runBenchEndings } from './lib.ts';

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const scenarios: Record<string, () => Promise<BenchResult>> = {
  'store-append': () => storeAppend(url),
  'store-append-embedded': () => storeAppendEmbedded(),
  'command-long-stream': () => commandLongStream(url),
  rebuild: () => rebuildBench(url),
  'api-command': () => apiCommandBench(url),
  'api-command-tracing': () => apiCommandTracingBench(url),
  'projection-lag': () => projectionLagBench(url),
  'saga-throughput': () => sagaThroughputBench(url),
  'tenant-ready': () => tenantReadyBench(url),
  'relay-throughput': () => relayThroughputBench(url),
  'audit-export': () => auditExportBench(url),
  'audit-verify': () => auditVerifyBench(url),
  'ws-fanout': () => wsFanoutBench(url),
  'message-to-reply': () => messageToReplyBench(url),
  'webhook-ingest': () => webhookIngestBench(url),
};

const requested = process.argv.slice(2).filter((a) => a !== '--');
const names = requested.length > 0 ? requested : Object.keys(scenarios);
const unknown = names.filter((n) => !scenarios[n]);
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}\n`);
  process.exit(2);
}
for (const name of names) report(await scenarios[name]!());
await runBenchEndings();
process.exit(0);
