import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import { readiness } from '../../adapters/telemetry/health.ts';
import { ConfigError } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import type { Logger } from '../../runtime/logger.ts';
import { connectOrgo } from '../../runtime/orgo.ts';
import { runCli } from '../support/cli.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const BOUNDS = { maxLagSeconds: 60, maxLagEvents: 1_000 };
/** A connection to a real (here: simulated) Orgo, which a key always gives. */
const connected = async (env: Record<string, string>, log: Logger) => {
  const orgo = await connectOrgo(env, log, { simulate: false });
  if (!orgo) throw new Error('expected a connection');
  return orgo;
};
const workspaceCheck = async () => (await readiness(BOUNDS)).checks['orgo:workspace'];

describe('ORGO_WORKSPACE_ID checked at start-up and in readiness (against the simulated Orgo)', () => {
  let sim: OrgoSimulator;
  const lines: string[] = [];
  const log = createLogger('warn', 'json', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const envOf = (workspaceId: string, url = sim.url) => ({
    ORGO_API_URL: url,
    ORGO_API_KEY: sim.apiKey,
    ORGO_WORKSPACE_ID: workspaceId,
    ORGO_TIMEOUT_MS: '2000',
    ORGO_RETRY_DELAYS_MS: '10',
  });
  beforeAll(async () => {
    sim = await startOrgoSimulator({ delays: 'none' });
  });
  afterAll(() => sim.close());

  it('a workspace Orgo does not have stops the start with one line naming ORGO_WORKSPACE_ID', async () => {
    const started = connectOrgo(envOf('ws-nosuch'), log, { simulate: false });
    await expect(started).rejects.toBeInstanceOf(ConfigError); // before: it started, and each knight failed at its deadline
    const error = (await started.catch((e: unknown) => e)) as ConfigError;
    expect(error.message).toMatch(/^invalid configuration: ORGO_WORKSPACE_ID: Orgo has no workspace ws-nosuch/);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain(sim.apiKey);
    expect(await workspaceCheck()).toBeUndefined(); // nothing left registered by the failed start
  });

  it('the saga role with a wrong ORGO_WORKSPACE_ID exits 2 with that one line, no stack trace', async () => {
    const schemas = { events: uniqueSchema('orgo_ws_ev'), readModels: uniqueSchema('orgo_ws_rm') };
    try {
      const run = await runCli(['saga'], {
        DATABASE_URL: TEST_DATABASE_URL,
        EVENT_STORE: 'postgres',
        EVENT_STORE_SCHEMA: schemas.events,
        READ_MODEL_SCHEMA: schemas.readModels,
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        ...envOf('ws-nosuch'),
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^invalid configuration: ORGO_WORKSPACE_ID: Orgo has no workspace ws-nosuch/m);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      expect(run.stdout + run.stderr).not.toContain(sim.apiKey);
    } finally {
      await dropSchema(schemas.events);
      await dropSchema(schemas.readModels);
    }
  }, 120_000);

  it('Orgo away or failing at start-up does not stop the process: it starts, says so, and works once Orgo is back', async () => {
    sim.fail({ op: 'list', status: 503, times: 2 }); // GET /workspaces/{id}: "could not reach the desktop"
    const during = await connected(envOf(sim.workspaceId), log);
    try {
      expect(lines.some((line) => line.includes('could not check ORGO_WORKSPACE_ID at start-up'))).toBe(true);
      expect(await workspaceCheck()).toMatchObject({ ok: true });
      sim.clearFaults();
      expect(await during.vms.list()).toEqual([]);
    } finally {
      await during.close();
    }
    // nothing listening at all
    const away = await connected(envOf(sim.workspaceId, 'http://127.0.0.1:9/api'), log);
    await away.close();
  });

  it('a workspace deleted after the start makes the process not ready, naming ORGO_WORKSPACE_ID; ready again when it answers', async () => {
    const fixed = sim.addWorkspace('platform-fixed');
    const orgo = await connected(envOf(fixed.id), log);
    try {
      expect(await workspaceCheck()).toMatchObject({ ok: true });
      sim.deleteWorkspace(fixed.id);
      await expect(orgo.vms.list()).rejects.toMatchObject({ code: 'orgo_workspace_not_found' });
      const check = await workspaceCheck();
      expect(check).toMatchObject({ ok: false });
      expect(check?.detail).toMatch(new RegExp(`${fixed.id} does not exist: check ORGO_WORKSPACE_ID`));
      expect((await readiness(BOUNDS)).ready).toBe(false);
      sim.addWorkspace('platform-fixed', { id: fixed.id }); // made again under that id (an operator's restore)
      expect(await orgo.vms.list()).toEqual([]);
      expect(await workspaceCheck()).toMatchObject({ ok: true });
    } finally {
      await orgo.close();
    }
    expect(await workspaceCheck()).toBeUndefined(); // removed with the connection
  });
});
