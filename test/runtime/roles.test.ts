import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintApiKey } from '../../commands/tenants/api-keys.ts';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { waitFor } from '../support/gate.ts';
import { connect } from '../ws/support.ts';
import { KAFKA_BROKERS, needsKafka, readTopic, uniqueTopic } from '../support/kafka.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');
/** Variables a developer's shell (or `npm test`) may carry; each case says what it wants instead. */
const CLEARED = ['DATABASE_URL', 'EVENTSTORE_URL', 'EVENT_STORE', 'EVENT_STORE_SCHEMA', 'READ_MODEL_SCHEMA', 'DATA_DIR', 'PROJECTOR_MODE', 'KAFKA_BROKERS', 'BUS', 'KAFKA_TOPIC'];

interface Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

const children: Child[] = [];

const cli = (args: string[], env: Record<string, string>): Child => {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CLEARED.includes(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], {
    cwd: root,
    env: { ...inherited, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const started = { child, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))), output: () => out };
  children.push(started);
  return started;
};

const outputMatching = async (proc: Child, pattern: RegExp, timeoutMs = 90_000) => {
  await waitFor(() => pattern.test(proc.output()) || proc.child.exitCode !== null, timeoutMs, `output matching ${pattern}`);
  const found = pattern.exec(proc.output());
  if (!found) throw new Error(`no ${pattern} (exit ${proc.child.exitCode}); output:\n${proc.output()}`);
  return found;
};

describe('roles: any set in one process, each alone, refused clearly when they cannot run', () => {
  const schemas = { events: uniqueSchema('roles_ev'), readModels: uniqueSchema('roles_rm') };
  const dirs: string[] = [];
  /** The variables of roles that share this suite's PostgreSQL schemas (and so its tenants' data keys). */
  const masterKey = randomBytes(32).toString('base64');
  const sharedDatabase = (operatorKey: string) => ({
    DATABASE_URL: TEST_DATABASE_URL,
    EVENT_STORE: 'postgres',
    EVENT_STORE_SCHEMA: schemas.events,
    READ_MODEL_SCHEMA: schemas.readModels,
    PORT: '0',
    OPERATOR_API_KEY: operatorKey,
    ENCRYPTION_KEY: masterKey,
  });
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    for (const s of Object.values(schemas)) await dropSchema(s);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it.skipIf(!KAFKA_BROKERS)(`start --roles api,projector,relay: one process serves commands, projects them and relays them to Kafka; SIGTERM stops all three${needsKafka}`, async () => {
    const topic = uniqueTopic('roles');
    const operatorKey = mintApiKey().key;
    const env = {
      ...sharedDatabase(operatorKey),
      KAFKA_BROKERS: KAFKA_BROKERS!,
      KAFKA_TOPIC: topic,
      KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
    };
    const all = cli(['start', '--roles', 'relay,api,projector'], env);
    const [, url] = await outputMatching(all, /^openclaw-service api ready on (http:\/\/\S+) .*projector: projector role/m);
    await outputMatching(all, /^projector running$/m);
    await outputMatching(all, new RegExp(`^relay running \\(PostgreSQL → ${topic.replace(/\./g, '\\.')} on `, 'm'));

    const tenantId = slug('roles');
    const created = ok(await client(url!, operatorKey).post<{ position: string }>('/tenants', { slug: tenantId, name: 'Roles', tier: 'pro' }), 201);
    ok(await client(url!, operatorKey).get(`/tenants/${tenantId}?minPosition=${created.position}`), 200);
    await waitFor(async () => (await readTopic(KAFKA_BROKERS!, topic)).some((m) => m.headers['tenant-id'] === tenantId), 30_000, 'the event on the topic');
    const [created1] = (await readTopic(KAFKA_BROKERS!, topic)).filter((m) => m.headers['tenant-id'] === tenantId);
    expect(created1!.headers['event-type']).toBe('TenantCreated.v2'); // the type as stored, with its version

    const status = cli(['bus', 'status', '--json'], env);
    expect(await status.exited).toBe(0);
    expect(JSON.parse(status.output())).toMatchObject({ bus: 'local', relay: { events: 0, checkpoint: expect.stringMatching(/^\d+$/) } });

    all.child.kill('SIGTERM');
    expect(await all.exited).toBe(0);
  }, 180_000);

  it.skipIf(!KAFKA_BROKERS)(`dev with BUS=kafka runs the relay too, on the embedded database${needsKafka}`, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-dev-kafka-'));
    dirs.push(dataDir);
    const topic = uniqueTopic('dev');
    const operatorKey = mintApiKey().key;
    const dev = cli(['dev'], { DATA_DIR: dataDir, PORT: '0', BUS: 'kafka', KAFKA_BROKERS: KAFKA_BROKERS!, KAFKA_TOPIC: topic, KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`, OPERATOR_API_KEY: operatorKey });
    const [, url] = await outputMatching(dev, /api:\s+(http:\/\/\S+)\/api\/v1/);
    const tenantId = slug('dev');
    ok(await client(url!, operatorKey).post('/tenants', { slug: tenantId, name: 'Dev', tier: 'free' }), 201);
    await waitFor(async () => (await readTopic(KAFKA_BROKERS!, topic)).some((m) => m.headers['tenant-id'] === tenantId), 30_000, 'the event on the topic');
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
  }, 180_000);

  it('ws alone, beside an api process: a token the api issued opens /ws/tenant/{id} on the pushers\' own port, and events arrive; SIGTERM stops it', async () => {
    const operatorKey = mintApiKey().key;
    const env = {
      ...sharedDatabase(operatorKey),
      JWT_SECRET: 'roles-test-secret-that-is-at-least-32-bytes',
      // failed logins counted in one place for both processes
      REDIS_URL: 'redis://127.0.0.1:6379',
      RATE_LIMIT_PREFIX: `roles-${randomUUID()}`,
      AUTH_FAILURES_PER_MINUTE: '3',
    };
    const api = cli(['api'], env);
    const [, url] = await outputMatching(api, /^openclaw-service api ready on (http:\/\/\S+) /m);
    const ws = cli(['ws'], env);
    const [, wsUrl] = await outputMatching(ws, /^ws pushers on (ws:\/\/\S+)\/ws\/tenant\/\{tenantId\}$/m);
    const tenantId = slug('wsrole');
    ok(await client(url!, operatorKey).post('/tenants', { slug: tenantId, name: 'Ws', tier: 'pro' }), 201);
    const issued = ok(await client(url!, operatorKey).post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ws' }), 201);
    ok(await client(url!, operatorKey).get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
    const token = ok(await client(url!, issued.key).post<{ access_token: string }>('/auth/token'), 200).access_token;
    const socket = connect(wsUrl!.replace(/^ws/, 'http'), tenantId, token);
    await socket.until((f) => f.kind === 'live', 30_000);
    const started = ok(await client(url!, token).post<{ position: string }>('/conversations', { title: 'over the pushers' }), 201);
    await socket.until((f) => f.position === started.position, 30_000);
    expect(socket.events().at(-1)).toMatchObject({ type: 'ConversationStarted', data: { title: 'over the pushers' } });
    // three forged tokens at the pushers lock this address out of the api too
    for (let i = 0; i < 3; i++) expect(await connect(wsUrl!.replace(/^ws/, 'http'), tenantId, `${token.slice(0, -4)}AAAA`).closed).toMatchObject({ code: 4401 });
    // a guess at an API key is refused there without a look-up; the key that verified before is still served
    // (the lockout stops guesses, not credentials: docs/decisions.md)
    expect(await client(url!, `${issued.key.slice(0, -4)}AAAA`).get('/conversations').then((r) => [r.status, r.body.code])).toEqual([429, 'rate_limited']);
    expect(await client(url!, issued.key).get('/conversations').then((r) => r.status)).toBe(200);
    ws.child.kill('SIGTERM');
    expect(await socket.closed).toMatchObject({ code: 1012 });
    expect(await ws.exited).toBe(0);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    // alone without the api's JWT keys it could verify no token: refused at start
    const keyless = cli(['ws'], { ...env, JWT_SECRET: '' });
    expect(await keyless.exited).toBe(2);
    expect(keyless.output()).toMatch(/the ws role verifies the API's tokens: set the same JWT_SECRET/);
  }, 240_000);

  it.concurrent.each([
    [['start', '--roles', 'api,chatter'], { DATABASE_URL: TEST_DATABASE_URL }, /unknown role\(s\): chatter; roles: api, projector, relay, saga, ws, bots, agents, billing/],
    [['bots'], {}, /the bots role needs a database other processes share/],
    [['relay'], { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE_SCHEMA: 'never_created_ev' }, /the relay role needs KAFKA_BROKERS/],
    [['relay'], { KAFKA_BROKERS: '127.0.0.1:9' }, /openclaw-service dev/],
    [['start', '--roles', 'projector,relay'], { DATABASE_URL: TEST_DATABASE_URL, KAFKA_BROKERS: 'no-port' }, /KAFKA_BROKERS: expected host:port/],
    [['dev'], { BUS: 'kafka', PORT: '0' }, /BUS=kafka needs KAFKA_BROKERS/],
  ])('%j with %j: exit code 2 and a message saying what is missing', async (args, env, expected) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-roles-'));
    dirs.push(dataDir);
    const proc = cli(args, { DATA_DIR: dataDir, ...env });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toMatch(expected);
    expect(proc.output()).not.toMatch(/^\s+at /m);
  });
});
