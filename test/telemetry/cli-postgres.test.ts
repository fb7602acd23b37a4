import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSagaHarness } from '../provisioning/support.ts';
import type { SagaHarness } from '../provisioning/support.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';
import { runCli } from '../support/cli.ts';

const cli = runCli;

const tablesIn = async (schema: string) => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
    return rows.map((r) => r.table_name);
  } finally {
    await client.end();
  }
};

describe('the CLI against PostgreSQL (DATABASE_URL): migrate, then a running server and its storage', () => {
  it('migrate creates the event store and read-model schemas (and again changes nothing); status reads them: an empty log', async () => {
    const schemas = { events: uniqueSchema('cli_ev'), readModels: uniqueSchema('cli_rm') };
    const env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE_SCHEMA: schemas.events, READ_MODEL_SCHEMA: schemas.readModels };
    try {
      const first = await cli(['migrate'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`migrated: event store \\(PostgreSQL, schema ${schemas.events}\\), read models \\(schema ${schemas.readModels}\\)`));
      expect(await tablesIn(schemas.readModels)).toEqual(expect.arrayContaining(['tenants', 'knights', 'checkpoints']));
      expect((await tablesIn(schemas.events)).length).toBeGreaterThan(0);
      const [again, status] = await Promise.all([cli(['migrate'], env), cli(['status', '--json'], env)]);
      expect(again.code, again.stderr).toBe(0);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ storage: 'PostgreSQL', head: null, roles: expect.arrayContaining(['api', 'projector', 'relay']) });
    } finally {
      await dropSchema(schemas.events);
      await dropSchema(schemas.readModels);
    }
  }, 300_000);

  describe('beside a server on PostgreSQL with the saga on a simulated Orgo', () => {
    let h: SagaHarness;
    let env: Record<string, string>;
    let over: string[];
    let dir: string;
    beforeAll(async () => {
      const encryptionKey = randomBytes(32).toString('base64');
      h = await startSagaHarness({ env: { ENCRYPTION_KEY: encryptionKey } });
      env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE_SCHEMA: h.api.schemas.events, READ_MODEL_SCHEMA: h.api.schemas.readModels, ENCRYPTION_KEY: encryptionKey };
      over = ['--url', h.api.baseUrl, '--operator-key', h.api.operatorKey];
      dir = await mkdtemp(path.join(os.tmpdir(), 'ocs-cli-pg-'));
    }, 120_000);
    afterAll(async () => {
      await h?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('onboard, tenants list, deploy-knight (running), then status, projections status, config and audit on the same data', async () => {
      const tenant = `pg-${randomBytes(3).toString('hex')}`;
      const onboarded = await cli(['onboard', ...over, '--name', 'Postgres Robots', '--email', 'ops@pg.test', '--tier', 'pro', '--slug', tenant, '--json'], env);
      expect(onboarded.code, onboarded.stderr).toBe(0);
      const created = JSON.parse(onboarded.stdout) as { tenant: string; apiKey: string };
      expect(created).toMatchObject({ tenant, tier: 'pro', apiKey: expect.stringMatching(/^ocs_/) });
      expect((await fetch(`${h.api.baseUrl}/api/v1/tenants/me`, { headers: { authorization: `Bearer ${created.apiKey}` } })).status).toBe(200);

      const [listed, table, deployed, stored] = await Promise.all([
        cli(['tenants', 'list', ...over, '--json'], env),
        cli(['tenants', 'list', ...over], env),
        cli(['deploy-knight', ...over, '--tenant', tenant, '--task', 'index the archive', '--json'], env),
        cli(['tenants', 'list', '--storage', '--json'], env),
      ]);
      expect(stored.code, stored.stderr).toBe(0);
      expect(JSON.parse(stored.stdout)).toContainEqual(expect.objectContaining({ tenantId: tenant, name: 'Postgres Robots', email: 'ops@pg.test' }));
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ tenantId: tenant, name: 'Postgres Robots', tier: 'pro', status: 'active' }));
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^TENANT\s+NAME\s+TIER\s+STATUS\s+CREATED/);
      expect(table.stdout).toMatch(new RegExp(`^${tenant}\\s+Postgres Robots\\s+pro\\s+active\\s+\\d{4}-`, 'm'));
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(JSON.parse(deployed.stdout)).toMatchObject({ tenant, status: 'running', failure: null });

      const [status, ready, projections, config] = await Promise.all([
        cli(['status', '--json'], env),
        cli(['status', '--url', h.api.baseUrl], env),
        cli(['projections', 'status', '--json'], env),
        cli(['config', '--json'], env),
      ]);
      expect(status.code, status.stderr).toBe(0);
      const glance = JSON.parse(status.stdout) as { storage: string; head: string; projections: { name: string; lagEvents: number }[] };
      expect(glance.storage).toBe('PostgreSQL');
      expect(BigInt(glance.head)).toBeGreaterThan(0n);
      expect(glance.projections.map((p) => p.name)).toEqual(expect.arrayContaining(['tenants', 'knights']));
      expect(ready.code, ready.stdout).toBe(0);
      expect(ready.stdout).toMatch(/: ready/);
      expect(projections.code, projections.stderr).toBe(0);
      expect((JSON.parse(projections.stdout) as { name: string; position: string | null }[]).find((p) => p.name === 'tenants')?.position).toMatch(/^\d+$/);
      expect(config.code, config.stderr).toBe(0);
      expect(JSON.parse(config.stdout)).toMatchObject({ EVENT_STORE_SCHEMA: h.api.schemas.events, READ_MODEL_SCHEMA: h.api.schemas.readModels, ENCRYPTION_KEY: expect.stringMatching(/^\*\*\* /) });
      expect(config.stdout).not.toContain(env.ENCRYPTION_KEY);

      const out = path.join(dir, 'export.ndjson');
      const [verify, exported, state] = await Promise.all([
        cli(['audit', 'verify', '--tenant', tenant], env),
        cli(['audit', 'export', '--tenant', tenant, '--out', out], env),
        cli(['audit', 'state', '--tenant', tenant], env),
      ]);
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(/^ok: every chain holds/);
      expect(exported.code, exported.stderr).toBe(0);
      const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type?: string });
      expect(lines.some((l) => JSON.stringify(l).includes('TenantCreated'))).toBe(true);
      expect(state.code, state.stderr).toBe(0);
      expect(state.stdout).toContain('Postgres Robots');
      const fromFile = await cli(['audit', 'verify', '--file', out], env);
      expect(fromFile.code, fromFile.stderr).toBe(0);
    }, 600_000);
  });
});
