import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inheritedEnv, ROOT, runCli } from '../support/cli.ts';

const root = ROOT;
const inherited = inheritedEnv;
const cli = runCli;

describe('the CLI against `npm start` (the embedded default) on the simulated Orgo: onboard, deploy-knight, tenants list, then the storage commands', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let url: string;
  let tenantKey = '';
  /** `npm start` on `dir`; resolves with its API's base URL once it is listening. */
  const startDev = async (env: Record<string, string> = {}) => {
    const started = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'dev'], {
      cwd: root,
      env: { ...inherited(), DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'warn', ORGO_SIMULATOR_DELAYS: 'none', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = started;
    let out = '';
    started.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    started.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    for (const deadline = Date.now() + 180_000; !/api:\s+(http:\/\/\S+)\/api\/v1/.test(out); await new Promise((r) => setTimeout(r, 100)))
      if (Date.now() > deadline || started.exitCode !== null) throw new Error(`dev did not start:\n${out}`);
    return /api:\s+(http:\/\/\S+)\/api\/v1/.exec(out)![1]!;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ocs-cli-'));
    url = await startDev();
  }, 200_000);
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the first API key once, and the knight reaches running; the operator key comes from DATA_DIR', async () => {
    const env = { DATA_DIR: dir };
    const onboarded = await cli(['onboard', '--url', url, '--name', 'Acme Robots', '--email', 'ops@acme.test', '--tier', 'pro', '--json'], env);
    expect(onboarded.code, onboarded.stderr).toBe(0);
    const tenant = JSON.parse(onboarded.stdout) as { tenant: string; tier: string; apiKey: string };
    tenantKey = tenant.apiKey;
    expect(tenant).toMatchObject({ tenant: 'acme-robots', tier: 'pro' });
    expect(tenant.apiKey).toMatch(/^ocs_[a-z0-9]{12}_/);
    const me = await fetch(`${url}/api/v1/tenants/me`, { headers: { authorization: `Bearer ${tenant.apiKey}` } });
    expect(me.status).toBe(200);

    const again = await cli(['onboard', '--url', url, '--name', 'Acme Robots', '--email', 'ops@acme.test'], env);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);

    const deployed = await cli(['deploy-knight', '--url', url, '--tenant', 'acme-robots', '--task', 'build the website', '--json'], env);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(JSON.parse(deployed.stdout)).toMatchObject({ tenant: 'acme-robots', status: 'running', failure: null });
    // the key deploy-knight issued for itself is revoked once it is done: the onboarding key is the only one standing
    type Keys = { items: { label: string; revokedAt: string | null }[] };
    let keys: Keys = { items: [] };
    for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      // the revocation is the last thing deploy-knight wrote: the key list shows it once projected
      keys = (await (await fetch(`${url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${tenant.apiKey}` } })).json()) as Keys;
      if (keys.items.filter((k) => k.revokedAt === null).length === 1) break;
    }
    expect(keys.items.filter((k) => k.revokedAt === null)).toHaveLength(1);
    expect(keys.items.find((k) => k.label === 'openclaw-service deploy-knight')).toMatchObject({ revokedAt: expect.any(String) });

    const unknown = await cli(['deploy-knight', '--url', url, '--tenant', 'nobody-here', '--task', 'x'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404/);

    const listed = await cli(['tenants', 'list', '--url', url, '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ tenantId: 'acme-robots', name: 'Acme Robots', tier: 'pro', status: 'active' })]);
  }, 400_000);

  it('with the server stopped (PGlite has one writer): migrate, status, projections status, tenants list --storage and audit verify read the same data folder', async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    const env = { DATA_DIR: dir };
    const migrated = await cli(['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^migrated: event store \(embedded PostgreSQL \(PGlite\)/);
    const status = await cli(['status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    const glance = JSON.parse(status.stdout) as { storage: string; head: string | null; projections: { name: string; lagEvents: number }[] };
    expect(glance.storage).toMatch(/PGlite/);
    expect(BigInt(glance.head ?? '0')).toBeGreaterThan(0n);
    expect(glance.projections.find((p) => p.name === 'tenants')?.lagEvents).toBe(0);
    const projections = await cli(['projections', 'status', '--json'], env);
    expect(projections.code, projections.stderr).toBe(0);
    expect((JSON.parse(projections.stdout) as { name: string }[]).map((p) => p.name)).toEqual(expect.arrayContaining(['tenants', 'knights']));
    const listed = await cli(['tenants', 'list', '--storage'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^acme-robots\s+Acme Robots\s+pro\s+active\s+\d{4}-/m);
    const verified = await cli(['audit', 'verify', '--tenant', 'acme-robots'], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: every chain holds/);
  }, 400_000);

  it('started again on the same folder, the simulated Orgo still has the knight\'s computer: the reconciler finds it and the knight stays running', async () => {
    // reconcile every second with no grace: a computer missing from the simulator would fail the knight (vm_lost) at once
    const again = await startDev({ RECONCILE_INTERVAL_SECONDS: '1', RECONCILE_GRACE_SECONDS: '0' });
    const knights = async () => {
      const res = await fetch(`${again}/api/v1/knights`, { headers: { authorization: `Bearer ${tenantKey}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: { status: string; failure: unknown }[] }).items;
    };
    // the read model's name for a knight whose OpenClaw runs (deploy-knight printed it as running)
    expect(await knights()).toEqual([expect.objectContaining({ status: 'provisioned', failure: null })]);
    // three reconciler passes later, still there
    await new Promise((r) => setTimeout(r, 3_500));
    expect(await knights()).toEqual([expect.objectContaining({ status: 'provisioned', failure: null })]);
  }, 400_000);
});
