import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface BenchResult {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  p50: number | null;
  p99: number | null;
  baseline: { name: string; value: number };
  ratio: number;
  notes: string;
  /** Secondary figures measured in the same run (e.g. the same load with encryption off). */
  extra?: Record<string, number>;
}

export const RESULTS_DIR = path.resolve(import.meta.dirname, 'results');

export const report = (result: BenchResult): void => {
  const line = JSON.stringify(result);
  process.stdout.write(`${line}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${result.scenario}.json`), `${line}\n`);
};

export const percentile = (sortedMs: number[], p: number): number => {
  if (sortedMs.length === 0) return Number.NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)]!;
};

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Runs `workers` loops of `op` for `seconds`, recording each op's latency in ms. */
export const closedLoop = async (options: {
  workers: number;
  seconds: number;
  op: (worker: number) => Promise<void>;
}): Promise<{ ops: number; perSecond: number; p50: number; p99: number }> => {
  const latencies: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.workers }, async (_, worker) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await options.op(worker);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
};

export const seconds = (fallback: number): number => Number(process.env.BENCH_SECONDS ?? fallback);

/** About 200 bytes of JSON, like a short chat message event. */
export const payload = (i: number) => ({
  messageId: `m-${i}`,
  role: 'user',
  channel: 'api',
  text: 'Hello agent, please summarise the build status of the website and list open tasks.',
  at: '2026-11-30T12:00:00.000Z',
});

const endings: Array<() => Promise<void>> = [];
/** Cleanup that waits until every requested scenario ran (e.g. a seeded log two scenarios share). */
export const atBenchEnd = (cleanup: () => Promise<void>): void => void endings.push(cleanup);
export const runBenchEndings = async (): Promise<void> => {
  for (const cleanup of endings.splice(0)) await cleanup();
};
