import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECTIONS } from '../../projections/index.ts';
import { client, ok } from '../http/support/client.ts';
import { journey } from '../runtime/support/journey.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs `openclaw-service <args>` to its end: exit code and output. */
const cli = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });

/**
 * Every read-model table's rows as JSON text, sorted: what two databases must agree on. Log
 * positions (`version`, `*_position`) are the only columns left out: a restore appends the same
 * events, ids, revisions, hashes and recording times, but the new store numbers its own positions.
 */
const readModels = async (query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>, schema: string) => {
  const tables: Record<string, string[]> = {};
  for (const table of PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name))) {
    const { rows } = await query(`SELECT (SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(x)) AS c(k, v) WHERE k <> 'version' AND k NOT LIKE '%position')::text AS row FROM ${schema}.${table} x`);
    tables[table] = rows.map((r) => String(r.row)).sort();
  }
  return tables;
};

describe('backup from the embedded store (PGlite), restore into PostgreSQL', () => {
  const encryptionKey = randomBytes(32).toString('base64');
  const schemas = { events: uniqueSchema('restore_ev'), readModels: uniqueSchema('restore_rm') };
  let dir: string;
  const embedded = () => ({ DATA_DIR: dir, ENCRYPTION_KEY: encryptionKey, DATABASE_URL: '', EVENTSTORE_URL: '', EVENT_STORE: 'pglite' });
  const postgres = () => ({ DATA_DIR: dir, ENCRYPTION_KEY: encryptionKey, DATABASE_URL: TEST_DATABASE_URL, EVENTSTORE_URL: '', EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: schemas.events, READ_MODEL_SCHEMA: schemas.readModels });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-restore-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    await dropSchema(schemas.events);
    await dropSchema(schemas.readModels);
  });

  it('every read model equals the source, row for row; a second restore is refused; a malformed backup names its line and writes nothing', async () => {
    // the source: `dev` on PGlite, a full journey through the API, then stopped
    const dev = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'dev'], {
      cwd: root,
      env: { ...process.env, ...embedded(), PORT: '0', OPERATOR_API_KEY: '', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      dev.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => dev.on('exit', resolve));
      for (const deadline = Date.now() + 90_000; !/operator:\s+ocs_/.test(out); await new Promise((r) => setTimeout(r, 25)))
        if (Date.now() > deadline) throw new Error(`dev did not start: ${out}`);
      const baseUrl = /api:\s+(http:\/\/\S+)\/api\/v1/.exec(out)![1]!;
      const operatorKey = /operator:\s+(ocs_\S+)/.exec(out)![1]!;
      const first = await journey(baseUrl, operatorKey);
      await journey(baseUrl, operatorKey);
      ok(await client(baseUrl, operatorKey).delete(`/tenants/${first.tenantId}`), 200); // an erased tenant travels as a tombstone
      dev.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (dev.exitCode === null) dev.kill('SIGKILL');
    }
    // the source's read models, rebuilt from its log so that nothing in flight at the stop differs
    expect((await cli(['projections', 'rebuild'], embedded())).code).toBe(0);

    const file = path.join(dir, 'backup.ndjson');
    const backup = await cli(['backup', '--out', file], embedded());
    expect(backup, backup.err).toMatchObject({ code: 0, out: expect.stringContaining('ok: every chain holds') });
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('{"kind":"key"'))).toHaveLength(2);

    // a malformed backup: the line is named, nothing is written
    const broken = path.join(dir, 'broken.ndjson');
    await writeFile(broken, `${lines.slice(0, 5).join('\n')}\n{"position": oops\n${lines.slice(5).join('\n')}\n`);
    const refused = await cli(['restore', '--file', broken], postgres());
    expect(refused).toMatchObject({ code: 2, err: expect.stringMatching(/^line 6: not JSON.* \(malformed_file\)\n$/) });

    const restored = await cli(['restore', '--file', file], postgres());
    expect(restored, restored.err).toMatchObject({ code: 0, out: expect.stringMatching(/restored \d+ events in \d+ streams and 2 data keys; every chain verifies/) });
    // into a store that holds events: refused with its stable code, for scripts
    expect((await cli(['restore', '--file', file], postgres()))).toMatchObject({ code: 2, err: expect.stringMatching(/^restore needs an empty event store: .* \(store_not_empty\)\n$/) });
    const verified = await cli(['audit', 'verify'], postgres());
    expect(verified).toMatchObject({ code: 0, out: expect.stringContaining('ok: every chain holds') });
    expect((await cli(['projections', 'rebuild'], postgres())).code).toBe(0);

    const source = await PGlite.create(path.join(dir, 'pglite'));
    const target = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await target.connect();
    try {
      const expected = await readModels((sql) => source.query(sql), 'rm');
      expect(Object.values(expected).flat().length).toBeGreaterThan(5);
      expect(await readModels((sql) => target.query(sql), schemas.readModels)).toEqual(expected);
    } finally {
      await source.close();
      await target.end();
    }
  }, 300_000);
});
