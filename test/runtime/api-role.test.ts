import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectedChannel } from '../../adapters/projections/projector.ts';
import { mintApiKey } from '../../commands/tenants/api-keys.ts';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { journey, readFresh } from './support/journey.ts';

const root = path.resolve(import.meta.dirname, '../..');
/** Storage variables a developer's shell may carry; each test says what it wants instead. */
const STORAGE_VARS = ['DATABASE_URL', 'EVENTSTORE_URL', 'EVENT_STORE', 'EVENT_STORE_SCHEMA', 'READ_MODEL_SCHEMA', 'DATA_DIR', 'PROJECTOR_MODE'];

interface Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

const children: Child[] = [];

/** `node --import tsx runtime/cli.ts <args>` with only the given storage settings. */
const cli = (args: string[], env: Record<string, string>): Child => {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !STORAGE_VARS.includes(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], {
    cwd: root,
    env: { ...inherited, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = { child, exited, output: () => out };
  children.push(started);
  return started;
};

/** Resolves with what `check` finds in the output, or fails with the output so far (a process that died says why). */
const waitForOutput = async <T>(proc: Child, what: string, check: (out: string) => T | undefined, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check(proc.output());
    if (found !== undefined) return found;
    if (proc.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no ${what} (exit code ${proc.child.exitCode}); output:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** The exit code, or `timeout` (after killing it) when the process keeps running. */
const exitCode = async (proc: Child, timeoutMs = 60_000): Promise<number | null | 'timeout'> => {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const code = await Promise.race([proc.exited, timedOut]);
  clearTimeout(timer);
  if (code === 'timeout') proc.child.kill('SIGKILL');
  return code;
};

const readyUrl = (proc: Child) =>
  waitForOutput(proc, 'ready line', (out) => /^openclaw-service api ready on (http:\/\/\S+) /m.exec(out)?.[1]);

/** Whether any backend has this application_name (openStorage names each process's connections). */
const connectionsOf = async (applicationName: string): Promise<boolean> => {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [applicationName.slice(0, 63)]);
    return rows[0]!.n > 0;
  } finally {
    await db.end();
  }
};

/** Backends LISTENing on the read models' "batch applied" channel (the listener's last statement is its LISTEN). */
const listenersOn = async (channel: string): Promise<number> => {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${channel}"`]);
    return rows[0]!.n;
  } finally {
    await db.end();
  }
};

afterAll(() => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('`openclaw-service api` against PostgreSQL', () => {
  const schemas: string[] = [];
  const storageEnv = () => {
    const events = uniqueSchema('role_ev');
    const readModels = uniqueSchema('role_rm');
    schemas.push(events, readModels);
    return {
      env: {
        DATABASE_URL: TEST_DATABASE_URL,
        EVENT_STORE_SCHEMA: events,
        READ_MODEL_SCHEMA: readModels,
        PG_POOL_SIZE: '4',
        JWT_SECRET: 'api-role-test-secret-at-least-32-bytes',
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      },
      readModels,
    };
  };
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
  });

  it.each([
    ['thread (the default)', {}, true],
    ['inline', { PROJECTOR_MODE: 'inline' }, false],
  ])('PROJECTOR_MODE=%s: serves the API, projects in this process, stops on SIGTERM with 0', async (_mode, modeEnv, expectThread) => {
    const { env, readModels } = storageEnv();
    const operatorKey = mintApiKey().key;
    const api = cli(['api'], { ...env, ...modeEnv, PORT: '0', OPERATOR_API_KEY: operatorKey });
    const url = await readyUrl(api);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    await journey(url, operatorKey);
    // Batches reach the read side in process (by thread message or directly), not by LISTEN.
    expect(await listenersOn(projectedChannel({ schema: readModels, suffix: '' }))).toBe(0);
    // A projector thread opens connections of its own; an inline projector has none.
    expect(await connectionsOf(`openclaw-projector-thread:${readModels}`)).toBe(expectThread);
    expect(await connectionsOf(`openclaw-api:${readModels}`)).toBe(true);
    api.child.kill('SIGTERM');
    expect(await exitCode(api)).toBe(0);
  }, 180_000);

  it('PROJECTOR_MODE=none: projects nothing itself; with a `projector` process beside it, minPosition waits end by LISTEN', async () => {
    const { env, readModels } = storageEnv();
    const operatorKey = mintApiKey().key;
    const api = cli(['api'], { ...env, PORT: '0', OPERATOR_API_KEY: operatorKey, PROJECTOR_MODE: 'none' });
    const url = await readyUrl(api);
    const operator = client(url, operatorKey);

    // Alone, it accepts commands but its read models do not move: the wait runs out and says so.
    const tenantId = slug('none');
    const created = ok(await operator.post<{ position: string }>('/tenants', { slug: tenantId, name: 'Before', tier: 'free' }), 201);
    const stale = await operator.get(`/tenants/${tenantId}?minPosition=${created.position}`);
    expect(stale.status).toBe(404);
    expect(Number(stale.headers.get('x-read-model-lag'))).toBeGreaterThan(0);

    const projector = cli(['projector'], env);
    await waitForOutput(projector, 'projector start', (out) => (out.includes('projector running') ? true : undefined));
    expect(await listenersOn(projectedChannel({ schema: readModels, suffix: '' }))).toBe(1);
    await readFresh(operator, `/tenants/${tenantId}?minPosition=${created.position}`);
    await journey(url, operatorKey);

    api.child.kill('SIGTERM');
    projector.child.kill('SIGTERM');
    expect(await exitCode(api)).toBe(0);
    expect(await exitCode(projector)).toBe(0);
  }, 180_000);
});

describe('`openclaw-service api` refuses a bad configuration with exit code 2, before it opens anything', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-api-role-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('without DATABASE_URL (which would mean embedded PGlite): names DATABASE_URL and points to `dev`', async () => {
    const api = cli(['api'], { PORT: '0', DATA_DIR: dataDir });
    expect(await exitCode(api)).toBe(2);
    expect(api.output()).toMatch(/DATABASE_URL/);
    expect(api.output()).toMatch(/openclaw-service dev/);
    expect(api.output()).not.toMatch(/^\s+at /m);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('EVENT_STORE=pglite is refused the same way even with DATABASE_URL set', async () => {
    const api = cli(['api'], { PORT: '0', DATA_DIR: dataDir, DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'pglite' });
    expect(await exitCode(api)).toBe(2);
    expect(api.output()).toMatch(/openclaw-service dev/);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it.each([
    ['TIER_REQUESTS_PER_MINUTE', 'gold=5', /TIER_REQUESTS_PER_MINUTE: unknown tier "gold"/],
    ['PROJECTOR_MODE', 'elsewhere', /PROJECTOR_MODE/],
    ['OPERATOR_API_KEY', 'letmein', /OPERATOR_API_KEY: must be an API key/],
    ['OPERATOR_API_KEY', `ocs_admin0000000_${'admin'.repeat(9).slice(0, 43)}`, /^invalid configuration: OPERATOR_API_KEY: must have a random secret \(at least 8 different characters among its 43, no block repeated\).*\(value not shown\)$/m],
    ['ENCRYPTION_KEY', '', /ENCRYPTION_KEY: required by the api role/],
    ['ENCRYPTION_KEY', Buffer.alloc(16, 7).toString('base64'), /ENCRYPTION_KEY: must decode to exactly 32 bytes/],
    ['ENCRYPTION_KEY', 'not base64 at all!', /ENCRYPTION_KEY: must be base64/],
  ])('%s=%s: a message naming the variable', async (name, value, expected) => {
    const encryptionKey = randomBytes(32).toString('base64');
    const api = cli(['api'], {
      PORT: '0',
      DATABASE_URL: TEST_DATABASE_URL,
      EVENT_STORE_SCHEMA: 'never_created_ev',
      READ_MODEL_SCHEMA: 'never_created_rm',
      ENCRYPTION_KEY: encryptionKey,
      [name]: value,
    });
    expect(await exitCode(api)).toBe(2);
    expect(api.output()).toMatch(expected);
    expect(api.output()).not.toMatch(/^\s+at /m);
  });
});
