import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { journey } from './support/journey.ts';

const root = path.resolve(import.meta.dirname, '../..');

const run = (args: string[], env: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
};

const until = async (what: string, check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('embedded default (`openclaw-service dev`)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-dev-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers /healthz, stops on Ctrl-C at any moment, and keeps every acknowledged event across restarts', async () => {
    const acked: string[] = [];
    const env = { DATA_DIR: dataDir, PORT: '0' };
    for (let round = 0; round < 3; round++) {
      const writer = run(['test/fixtures/dev-writer.ts', 'write'], env);
      await until('ready', () => writer.output().includes('ready http'), 60_000);
      const url = /ready (\S+)/.exec(writer.output())![1]!;
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok' });
      const target = 20 + Math.floor(Math.random() * 200);
      await until('acks', () => (writer.output().match(/^ack /gm)?.length ?? 0) >= target, 60_000);
      writer.child.kill('SIGINT'); // Ctrl-C while appends are in flight
      expect(await writer.exited).toBe(0);
      acked.push(...[...writer.output().matchAll(/^ack (\S+)$/gm)].map((m) => m[1]!));
    }
    const lister = run(['test/fixtures/dev-writer.ts', 'list'], env);
    expect(await lister.exited).toBe(0);
    const stored = new Set([...lister.output().matchAll(/^stored (\S+)$/gm)].map((m) => m[1]!));
    const lost = acked.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(acked.length).toBeGreaterThan(60);
  }, 240_000);

  it('the whole journey over HTTP on PGlite, with the operator key it printed; another tenant sees none of it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-dev-journey-'));
    try {
      const dev = run(['runtime/cli.ts', 'dev'], { DATA_DIR: dir, PORT: '0', OPERATOR_API_KEY: '' });
      await until('the start-up banner', () => /operator:\s+ocs_/.test(dev.output()), 60_000);
      const baseUrl = /api:\s+(http:\/\/\S+)\/api\/v1/.exec(dev.output())![1]!;
      const operatorKey = /operator:\s+(ocs_\S+)/.exec(dev.output())![1]!;
      expect(dev.output()).toMatch(/vms:\s+simulated Orgo at http:\/\/127\.0\.0\.1:\d+\/api \(ORGO_API_KEY is unset: nothing is really created\)/);
      const a = await journey(baseUrl, operatorKey);
      // the embedded saga provisions the journey's knight on the simulated Orgo, with its documented delays
      const mine = client(baseUrl, a.token);
      const deadline = Date.now() + 60_000;
      let knight: { status: string; result: string | null; vmId: string | null } | undefined;
      while (Date.now() < deadline && !(knight?.result !== undefined && knight.result !== null)) {
        knight = ok(await mine.get<{ items: { status: string; result: string | null; vmId: string | null }[] }>('/knights'), 200).items[0];
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(knight).toMatchObject({ status: 'provisioned', result: '', vmId: expect.any(String) });
      const tenant = ok(await client(baseUrl, operatorKey).get<{ agentVm: { status: string } | null }>(`/tenants/${a.tenantId}`), 200);
      expect(tenant.agentVm?.status).toMatch(/^(requested|ready)$/);

      const b = await newTenant(client(baseUrl, operatorKey));
      const other = client(baseUrl, b.key);
      expect((await other.get(`/conversations/${a.conversationId}`)).status).toBe(404);
      expect((await other.get(`/conversations/${a.conversationId}/messages`)).status).toBe(404);
      expect(ok(await other.get<{ items: unknown[] }>(`/conversations?minPosition=${b.position}`), 200).items).toEqual([]);
      expect(ok(await other.get<{ items: unknown[] }>('/knights'), 200).items).toEqual([]);
      // the embedded default allows a gateway on this machine (GATEWAY_ALLOW_PRIVATE_NETWORKS defaults to true here)
      ok(await other.post('/agent/gateway', { url: 'http://127.0.0.1:18789', token: 'local-gateway-token' }), 200);

      dev.child.kill('SIGINT');
      expect(await dev.exited).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a bad configuration with a clear message and exit code 2', async () => {
    const bad = run(['runtime/cli.ts', 'dev'], { PORT: 'eighty', DATA_DIR: dataDir });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('PORT');
    const badOrgo = run(['runtime/cli.ts', 'dev'], { ORGO_WARM_POOL: 'lots', ORGO_API_URL: 'not a url', DATA_DIR: dataDir });
    expect(await badOrgo.exited).toBe(2);
    expect(badOrgo.output()).toMatch(/ORGO_API_URL/);
    expect(badOrgo.output()).toMatch(/ORGO_WARM_POOL/);
  });
});
