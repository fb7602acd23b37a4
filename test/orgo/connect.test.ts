import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import { readiness } from '../../adapters/telemetry/health.ts';
import { ConfigError, loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import type { Logger } from '../../runtime/logger.ts';
import { connectOrgo } from '../../runtime/orgo.ts';
import { startRoles } from '../../runtime/roles.ts';
import { runCli } from '../support/cli.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const BOUNDS = { maxLagSeconds: 60, maxLagEvents: 1_000 };
/** A connection to a real (here: simulated) Orgo, which a key always gives. */
const connected = async (env: Record<string, string>, log: Logger) => {
  const orgo = await connectOrgo(env, log, { simulate: false, provisions: true });
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
    const started = connectOrgo(envOf('ws-nosuch'), log, { simulate: false, provisions: true });
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
  /** A process running `roles` on fresh schemas, given `env`; stopped and its schemas dropped after `body`. */
  const withRoles = async (roles: ('api' | 'saga')[], env: Record<string, string>, body: (banners: string[]) => Promise<void>) => {
    const schemas = { events: uniqueSchema('orgo_roles_ev'), readModels: uniqueSchema('orgo_roles_rm') };
    const all = {
      DATABASE_URL: TEST_DATABASE_URL,
      EVENT_STORE: 'postgres',
      EVENT_STORE_SCHEMA: schemas.events,
      READ_MODEL_SCHEMA: schemas.readModels,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long',
      PORT: '0',
      PROJECTOR_MODE: 'inline',
      RECONCILE_INTERVAL_SECONDS: '0',
      ...env,
    };
    try {
      const running = await startRoles(roles, loadConfig(all), log, all);
      try {
        await body(running.banners);
      } finally {
        await running.stop();
      }
    } finally {
      await dropSchema(schemas.events);
      await dropSchema(schemas.readModels);
    }
  };

  it('the api role alone (screenshots only) with a wrong ORGO_WORKSPACE_ID starts and is ready: no start-up check, no orgo:workspace', async () => {
    lines.length = 0;
    // before: the api role stopped with exit 2 (every API pod down for a problem of the knights only)
    await withRoles(['api'], envOf('ws-nosuch'), async ([banner]) => {
      const url = /ready on (http:\/\/\S+?) /.exec(banner!)![1]!;
      await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 20_000 }).toBe(200);
      expect(await workspaceCheck()).toBeUndefined();
    });
    expect(lines.some((line) => line.includes('ORGO_WORKSPACE_ID'))).toBe(false);
  }, 60_000);

  it('api and saga in one process connect to Orgo once: one start-up check, one orgo:workspace', async () => {
    lines.length = 0;
    sim.fail({ op: 'list', status: 503, times: 2 }); // a start-up check sees one; the saga's own retries the other
    await withRoles(['api', 'saga'], envOf(sim.workspaceId), async () => {
      // before: each role connected and checked on its own (two warnings, two registrations of the check)
      expect(lines.filter((line) => line.includes('could not check ORGO_WORKSPACE_ID at start-up'))).toHaveLength(1);
      expect(await workspaceCheck()).toMatchObject({ ok: true });
    });
    sim.clearFaults();
    expect(await workspaceCheck()).toBeUndefined();
  }, 60_000);

  it('a 404 that is not Orgo\'s JSON error (ORGO_API_URL pointing at a web site) does not stop the start: it warns naming ORGO_API_URL', async () => {
    const site = createServer((_req, res) => void res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body><h1>404: This page could not be found</h1></body></html>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    try {
      lines.length = 0;
      const wrongUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`; // the site, not its /api
      const orgo = await connected(envOf('ws-whatever', wrongUrl), log); // before: ConfigError "Orgo has no workspace ws-whatever"
      await orgo.close();
      expect(lines.filter((line) => line.includes('not Orgo\'s API answering (check ORGO_API_URL'))).toHaveLength(1);
      // Orgo's own JSON 404 still stops it
      await expect(connectOrgo(envOf('ws-nosuch'), log, { simulate: false, provisions: true })).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await new Promise((resolve) => site.close(resolve));
    }
  });
});
