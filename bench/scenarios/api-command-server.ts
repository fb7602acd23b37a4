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
const { startApiStack } = await import('./api-stack.ts');
const { messageLoad } = await import('./api-command.ts');

const url = process.env.BENCH_CHILD_DATABASE_URL!;
const stack = await startApiStack(url, { OPERATOR_REQUESTS_PER_MINUTE: '1000000', TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000' });
const setup = await messageLoad(stack, `bench-trace-${process.pid}`);

const send = (message: Record<string, unknown>) => process.send!(message);

/**
 * BENCH_HEAP_PROFILE_DIR: a sampling heap profile of the measured window (first `sample` to the
 * next), counting what the collector already freed too, so it shows where each request's bytes
 * are allocated, not what is left at the end. Written as `heap-<on|off>-<pid>.heapprofile`.
 */
const heapDir = process.env.BENCH_HEAP_PROFILE_DIR;
const heap = heapDir ? await import('node:inspector/promises').then(({ Session }) => { const session = new Session(); session.connect(); return { session, running: false }; }) : undefined;
const sampleHeap = async () => {
  if (!heap) return;
  if (!heap.running) {
    heap.running = true;
    await heap.session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  const { profile } = await heap.session.post('HeapProfiler.stopSampling');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${heapDir}/heap-${process.env.BENCH_TRACING}-${process.pid}.heapprofile`, JSON.stringify(profile));
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
      await sampleHeap();
      send({ type: 'sample', spans: exported, cpuMicros: cpu.user + cpu.system });
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
