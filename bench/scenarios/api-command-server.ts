/**
 * One phase of `api-command-tracing`, in a process of its own (forked by apiCommandTracingBench):
 * with BENCH_TRACING=on, tracing starts first, as `runtime/process-setup.ts` starts it in
 * production (every instrumentation, a batch span processor) but exporting to an in-process no-op
 * that counts the spans; then the stack and the load's tenants. Talks to the parent over IPC:
 * `ready` (base URL and autocannon's setup module), `sample` (spans exported and CPU time used so far), `stop` to close.
 */
import { startTracing } from '../../runtime/tracing.ts';

/** A span exporter that drops everything but counts it: what tracing costs in the process, without a collector's. */
let exported = 0;
/** BENCH_SPAN_NAMES=1: the spans by name and parent's name on stderr when the phase stops (what a request is made of). */
type Exported = { name: string; spanContext(): { spanId: string }; parentSpanContext?: { spanId: string } | undefined };
const seen = process.env.BENCH_SPAN_NAMES === '1' ? { names: new Map<string, string>(), spans: [] as [string, string | undefined][] } : undefined;
const noopExporter = {
  export: (spans: Exported[], done: (result: { code: 0 }) => void) => {
    exported += spans.length;
    if (seen)
      for (const span of spans) {
        seen.names.set(span.spanContext().spanId, span.name);
        seen.spans.push([span.name, span.parentSpanContext?.spanId]);
      }
    done({ code: 0 });
  },
  shutdown: async () => undefined,
  forceFlush: async () => undefined,
};

const tracing = process.env.BENCH_TRACING === 'on' ? startTracing({}, 'bench', noopExporter, 'batch') : undefined;

/** Queries sent by this process's pg clients (group commit makes the count per request depend on the load's timing). */
let queries = 0;
{
  const { default: pg } = await import('pg');
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function counted(this: unknown, ...args: unknown[]) {
    queries += 1;
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
}
const { startApiStack } = await import('./api-stack.ts');
const { messageLoad } = await import('./api-command.ts');

const url = process.env.BENCH_CHILD_DATABASE_URL!;
const stack = await startApiStack(url, { OPERATOR_REQUESTS_PER_MINUTE: '1000000', TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000' });
const setup = await messageLoad(stack, `bench-trace-${process.pid}`);

const send = (message: Record<string, unknown>) => process.send!(message);

/**
 * Profiles of the measured window only (first `sample` to the next), so set-up is not in them:
 * BENCH_HEAP_PROFILE_DIR a sampling heap profile counting what the collector already freed too
 * (where each request's bytes are allocated, not what is left at the end), BENCH_CPU_PROFILE_DIR a
 * CPU profile. Written as `<heap|cpu>-<on|off>-<pid>.<heapprofile|cpuprofile>`.
 */
const heapDir = process.env.BENCH_HEAP_PROFILE_DIR;
const cpuDir = process.env.BENCH_CPU_PROFILE_DIR;
const inspector = heapDir || cpuDir ? await import('node:inspector/promises').then(({ Session }) => { const session = new Session(); session.connect(); return { session, running: false }; }) : undefined;
const profileWindow = async () => {
  if (!inspector) return;
  const { session } = inspector;
  if (!inspector.running) {
    inspector.running = true;
    if (heapDir) await session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    if (cpuDir) {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    return;
  }
  const { writeFile } = await import('node:fs/promises');
  const name = `${process.env.BENCH_TRACING}-${process.pid}`;
  if (cpuDir) await writeFile(`${cpuDir}/cpu-${name}.cpuprofile`, JSON.stringify((await session.post('Profiler.stop')).profile));
  if (heapDir) await writeFile(`${heapDir}/heap-${name}.heapprofile`, JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile));
};
process.on('message', (message: { type: string }) => {
  void (async () => {
    if (message.type === 'settle') {
      const { settle } = await import('./api-stack.ts');
      await settle(stack);
      send({ type: 'settled' });
    } else if (message.type === 'sample') {
      await tracing?.forceFlush();
      const cpu = process.cpuUsage();
      await profileWindow();
      send({ type: 'sample', spans: exported, queries, cpuMicros: cpu.user + cpu.system });
    } else if (message.type === 'stop') {
      await setup.remove();
      await stack.close();
      await tracing?.shutdown();
      if (seen) {
        const counts = new Map<string, number>();
        for (const [name, parent] of seen.spans) {
          const key = `${name} <- ${parent === undefined ? '(root)' : (seen.names.get(parent) ?? '(remote)')}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        process.stderr.write(`spans by name <- parent: ${JSON.stringify(Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])), null, 1)}\n`);
      }
      process.disconnect();
      process.exit(0);
    }
  })().catch((error: unknown) => {
    process.stderr.write(`bench server: ${String(error)}\n`);
    process.exit(1);
  });
});
send({ type: 'ready', baseUrl: stack.baseUrl, setupFile: setup.file });
