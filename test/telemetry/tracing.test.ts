import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../runtime/tracing.ts';

// Tracing starts before the platform's modules load (as the CLI does), so http, express and pg are instrumented.
const exporter = new InMemorySpanExporter();
const tracing = startTracing({}, 'test', exporter)!;
const { consumeDecoded } = await import('../../adapters/bus/decoded.ts');
const { startApiHarness } = await import('../support/api-harness.ts');
const { client, ok } = await import('../http/support/client.ts');
const { slug } = await import('../http/support/journey.ts');

type Harness = Awaited<ReturnType<typeof startApiHarness>>;

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('one trace from HTTP to every reader of the event', () => {
  let stack: Harness;
  const consumed: string[] = [];
  let subscription: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    stack = await startApiHarness();
    subscription = await consumeDecoded(stack.storage.bus, stack.storage.codec, `trace-test-${Date.now()}`, { decode: 'stored', eventTypes: ['TenantCreated'] }, (events) => {
      for (const e of events) consumed.push(e.streamId);
    });
  }, 60_000);
  afterAll(async () => {
    await subscription?.close();
    await stack?.close();
    await tracing.shutdown();
  });

  it('HTTP → command → append, then the projector batch and the consumer as children of the command, by the traceparent stored in the event', async () => {
    exporter.reset();
    const tenant = slug('tr');
    const created = ok(await client(stack.baseUrl, stack.operatorKey).post<{ tenantId: string }>('/tenants', { slug: tenant, name: 'Traced', tier: 'free' }), 201);
    const find = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);
    for (const deadline = Date.now() + 30_000; !find('projector batch') || !exporter.getFinishedSpans().some((s) => s.name.startsWith('consume ')); ) {
      if (Date.now() > deadline) throw new Error(`spans so far: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const command = find('command CreateTenant')!;
    expect(command, exporter.getFinishedSpans().map((s) => s.name).join(', ')).toBeDefined();
    const trace = command.spanContext().traceId;
    const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === trace);
    const named = (prefix: string) => inTrace.filter((s) => s.name.startsWith(prefix));

    const server = inTrace.find((s) => s.kind === 1 /* SERVER */ && s.attributes['http.route'] !== undefined) ?? inTrace.find((s) => s.kind === 1);
    expect(server, inTrace.map((s) => s.name).join(', ')).toBeDefined();
    const append = named('eventstore append')[0]!;
    expect(parentOf(append)).toBe(command.spanContext().spanId);
    // the command runs inside the request's spans (the HTTP server span, express's route handler)
    let up: ReadableSpan | undefined = command;
    const chain: string[] = [];
    while (up && parentOf(up)) {
      up = inTrace.find((s) => s.spanContext().spanId === parentOf(up!));
      if (up) chain.push(up.name);
    }
    expect(chain.at(-1)).toBe(server!.name);
    const batch = named('projector batch').find((s) => parentOf(s) === command.spanContext().spanId);
    expect(batch, 'projector batch under the command').toBeDefined();
    const consumer = named('consume ').find((s) => parentOf(s) === command.spanContext().spanId);
    expect(consumer, 'consumer handler under the command').toBeDefined();
    expect(consumed.some((streamId) => streamId.includes(created.tenantId))).toBe(true);
    expect(inTrace.some((s) => s.name.startsWith('pg.')), 'a pg span in the trace').toBe(true);
    if (process.env.SHOW_TRACE) console.log([...new Set(inTrace.map((s) => s.name))].join(' | '));
  }, 60_000);
});
