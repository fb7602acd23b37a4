import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import http from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../runtime/tracing.ts';

// Tracing starts before the platform's modules load (as the CLI does), so http, express and pg are instrumented.
const exporter = new InMemorySpanExporter();
const tracing = startTracing({}, 'test', exporter)!;
const { consumeDecoded } = await import('../../adapters/bus/decoded.ts');
const { startApiHarness } = await import('../support/api-harness.ts');
const { client, ok } = await import('../http/support/client.ts');
const { newTenant, slug } = await import('../http/support/journey.ts');
const { createLogger } = await import('../../runtime/logger.ts');
const { createKafkaBus } = await import('../../adapters/bus/kafka.ts');
const { createKafka } = await import('../../adapters/kafka/client.ts');
const { createRelay } = await import('../../adapters/relay/relay.ts');
const { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } = await import('../support/kafka.ts');

type Harness = Awaited<ReturnType<typeof startApiHarness>>;

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

afterAll(() => tracing.shutdown());

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

describe("the request's server span", () => {
  let stack: Harness;
  beforeAll(async () => {
    stack = await startApiHarness();
  }, 60_000);
  afterAll(() => stack?.close());

  it("continues the caller's traceparent, is named by the route and carries method, route and status; probes get none", async () => {
    exporter.reset();
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const created = ok(
      await client(stack.baseUrl, stack.operatorKey).post<{ tenantId: string }>('/tenants', { slug: slug('sv'), name: 'Server span', tier: 'free' }, { traceparent: `00-${callerTrace}-${callerSpan}-01` }),
      201,
    );
    const missing = await client(stack.baseUrl, stack.operatorKey).get(`/tenants/${created.tenantId}-none`);
    expect(missing.status).toBe(404);
    await fetch(`${stack.baseUrl}/healthz`);
    const servers = () => exporter.getFinishedSpans().filter((s) => s.kind === 1 /* SERVER */);
    for (const deadline = Date.now() + 10_000; servers().length < 2; await new Promise((r) => setTimeout(r, 20)))
      if (Date.now() > deadline) throw new Error(`server spans so far: ${servers().map((s) => s.name).join(', ')}`);

    const posted = servers().find((s) => s.spanContext().traceId === callerTrace)!;
    expect(posted, servers().map((s) => s.name).join(', ')).toBeDefined();
    expect(posted.name).toBe('POST /api/v1/tenants');
    expect(parentOf(posted)).toBe(callerSpan);
    expect(posted.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/api/v1/tenants', 'http.response.status_code': 201, 'url.path': '/api/v1/tenants' });
    // the command ran inside it
    const command = exporter.getFinishedSpans().find((s) => s.name === 'command CreateTenant')!;
    expect(parentOf(command)).toBe(posted.spanContext().spanId);

    const got = servers().find((s) => s.attributes['http.response.status_code'] === 404)!;
    expect(got.name).toBe('GET /api/v1/tenants/:tenantId');
    expect(got.spanContext().traceId).not.toBe(callerTrace);
    expect(parentOf(got)).toBeUndefined();
    expect(servers().some((s) => s.attributes['url.path'] === '/healthz')).toBe(false);
  }, 60_000);

  it('keeps the command under the server span when the body arrives after the headers (a slow client)', async () => {
    exporter.reset();
    const body = JSON.stringify({ slug: slug('sl'), name: 'Slow body', tier: 'free' });
    const { hostname, port } = new URL(stack.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { hostname, port, method: 'POST', path: '/api/v1/tenants', headers: { authorization: `Bearer ${stack.operatorKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      setTimeout(() => req.end(body), 100);
    });
    expect(status).toBe(201);
    const find = () => exporter.getFinishedSpans().find((s) => s.name === 'POST /api/v1/tenants');
    for (const deadline = Date.now() + 10_000; !find(); await new Promise((r) => setTimeout(r, 20)))
      if (Date.now() > deadline) throw new Error(`spans so far: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
    const command = exporter.getFinishedSpans().find((s) => s.name === 'command CreateTenant')!;
    expect(parentOf(command)).toBe(find()!.spanContext().spanId);
  }, 60_000);
});

/** The chain of parents from `span` up to its trace's root, as span names (the span itself first). */
const ancestry = (span: ReadableSpan, all: readonly ReadableSpan[]) => {
  const chain = [span.name];
  for (let up: ReadableSpan | undefined = span; up && parentOf(up); ) {
    up = all.find((s) => s.spanContext().spanId === parentOf(up!));
    if (up) chain.push(up.name);
  }
  return chain;
};

describe.skipIf(!KAFKA_BROKERS)(`one trace through the Kafka leg: API → store → relay → Kafka → consumer, and the projector${needsKafka}`, () => {
  let stack: Harness;
  const opened: { close(): Promise<void> }[] = [];
  const consumed: string[] = [];
  const topic = uniqueTopic('trace');
  beforeAll(async () => {
    stack = await startApiHarness();
    // the relay role and a consumer of another process on BUS=kafka, over this stack's store
    const settings = { brokers: KAFKA_BROKERS!.split(','), clientId: 'trace-test', topic, deadLetterTopic: `${topic}.dlq`, partitions: 2 };
    const relay = createRelay({ store: stack.storage.store, checkpoints: stack.storage.checkpoints, kafka: createKafka(settings), settings });
    relay.start();
    opened.push({ close: () => relay.stop() });
    const bus = createKafkaBus({ kafka: createKafka(settings), settings });
    opened.push(bus);
    const subscription = await consumeDecoded(bus, stack.storage.codec, 'trace-kafka-consumer', { decode: 'stored', eventTypes: ['TenantCreated'] }, (events) => {
      for (const e of events) consumed.push(e.streamId);
    });
    opened.unshift(subscription);
  }, 90_000);
  afterAll(async () => {
    for (const o of opened) await o.close();
    await stack?.close();
  });

  it('the relay batch and the Kafka consumer\'s handler are children of the command, by the traceparent in the event and the message header', async () => {
    exporter.reset();
    const created = ok(await client(stack.baseUrl, stack.operatorKey).post<{ tenantId: string }>('/tenants', { slug: slug('trk'), name: 'Traced over Kafka', tier: 'free' }), 201);
    const spans = () => exporter.getFinishedSpans();
    const command = () => spans().find((s) => s.name === 'command CreateTenant');
    const under = (name: string) => spans().filter((s) => s.name === name && parentOf(s) === command()?.spanContext().spanId);
    const wanted = ['projector batch', 'relay batch', 'consume trace-kafka-consumer'];
    for (const deadline = Date.now() + 60_000; !command() || wanted.some((name) => under(name).length === 0); ) {
      if (Date.now() > deadline) throw new Error(`spans so far: ${spans().map((s) => `${s.name}<${parentOf(s) ?? '-'}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cmd = command()!;
    const trace = cmd.spanContext().traceId;
    const inTrace = spans().filter((s) => s.spanContext().traceId === trace);
    // one trace: every span of ours hangs, parent by parent, under the request's server span
    const server = inTrace.find((s) => s.kind === 1 /* SERVER */)!;
    expect(server, inTrace.map((s) => s.name).join(', ')).toBeDefined();
    for (const name of ['eventstore append', ...wanted]) {
      const span = inTrace.find((s) => s.name === name)!;
      expect(ancestry(span, inTrace).at(-1), `${name}: ${ancestry(span, inTrace).join(' → ')}`).toBe(server.name);
    }
    expect(consumed.some((streamId) => streamId.includes(created.tenantId))).toBe(true);

    // the message on the topic carries the command span's traceparent (not the HTTP header's, not the relay's)
    const messages = await readTopic(KAFKA_BROKERS!, topic);
    const message = messages.find((m) => m.key?.includes(created.tenantId) && m.headers['event-type']!.startsWith('TenantCreated'));
    expect(message?.headers.traceparent).toBe(`00-${trace}-${cmd.spanContext().spanId}-01`);
    // kafkajs's own consumer spans point back at it too (a link from each message's process span)
    const linked = spans().filter((s) => s.links.some((l) => l.context.spanId === cmd.spanContext().spanId && l.context.traceId === trace));
    expect(linked.length, 'a kafkajs process span linked to the command').toBeGreaterThan(0);
    if (process.env.SHOW_TRACE) console.log(inTrace.map((s) => ancestry(s, inTrace).join(' → ')).join('\n'));
  }, 90_000);
});

describe('log lines name the tenant and the trace', () => {
  let stack: Harness;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', 'json', new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
  let subscription: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    stack = await startApiHarness({}, { log });
    subscription = await consumeDecoded(stack.storage.bus, stack.storage.codec, `log-test-${Date.now()}`, { decode: 'stored', eventTypes: ['ConversationStarted'] }, () => {
      log.info('conversation seen');
    });
  }, 60_000);
  afterAll(async () => {
    await subscription?.close();
    await stack?.close();
  });

  it("a tenant-scoped request's log line carries its tenantId and trace id, and so does a line a bus consumer logs for that tenant's event", async () => {
    const operator = client(stack.baseUrl, stack.operatorKey);
    const { tenantId, key } = await newTenant(operator);
    exporter.reset();
    const started = ok(await client(stack.baseUrl, key).post<{ conversationId: string }>('/conversations', { title: 'logged' }), 201);
    const line = () => lines.find((l) => l.msg === 'request' && l.route === '/api/v1/conversations' && l.method === 'POST' && l.tenantId === tenantId);
    const seen = () => lines.find((l) => l.msg === 'conversation seen' && l.tenantId === tenantId);
    for (const deadline = Date.now() + 30_000; !line() || !seen(); await new Promise((r) => setTimeout(r, 50)))
      if (Date.now() > deadline) throw new Error(`log lines so far: ${JSON.stringify(lines.slice(-5))}`);
    const request = line()!;
    expect(request).toMatchObject({ status: 201, requestId: expect.any(String), trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    // the trace id is the request's: its command span is in that trace
    const command = exporter.getFinishedSpans().find((s) => s.name === 'command StartConversation' && s.spanContext().traceId === request.trace_id);
    expect(command, exporter.getFinishedSpans().map((s) => s.name).join(', ')).toBeDefined();
    // the consumer's line: the tenant of the event, the consumer, and the command's trace (by the event's traceparent)
    expect(seen()).toMatchObject({ tenantId, consumer: expect.stringMatching(/^log-test-/), trace_id: request.trace_id });
    expect(started.conversationId).toBeTruthy();
    // the operator acting on a tenant by path: that tenant is named too
    ok(await operator.get(`/tenants/${tenantId}`), 200);
    expect(lines.some((l) => l.msg === 'request' && l.route === '/api/v1/tenants/:tenantId' && l.tenantId === tenantId)).toBe(true);
  }, 60_000);
});

describe('outgoing requests', () => {
  it("a Bot API call's client span does not carry the bot's token (it is in the URL path)", async () => {
    const { startTelegramDouble } = await import('../../adapters/channels/doubles/telegram-bot-api.ts');
    const { createTelegramBots } = await import('../../adapters/telegram/bots.ts');
    const double = await startTelegramDouble();
    try {
      const bot = double.addBot();
      exporter.reset();
      const bots = createTelegramBots({ apiRoot: double.apiRoot });
      expect((await bots.getMe({ tenantId: 'acme', token: bot.token })).botUsername).toBe(bot.username);
      const client = exporter.getFinishedSpans().filter((s) => s.kind === 2 /* CLIENT */ && Object.values(s.attributes).some((v) => String(v).includes('/getMe')));
      expect(client.length, exporter.getFinishedSpans().map((s) => s.name).join(', ')).toBeGreaterThan(0);
      const secret = bot.token.split(':')[1]!;
      for (const span of client) expect(JSON.stringify(span.attributes)).not.toContain(secret);
      expect(JSON.stringify(client[0]!.attributes)).toContain('/bot[REDACTED]/getMe');
    } finally {
      await double.close();
    }
  }, 30_000);
});
