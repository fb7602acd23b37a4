import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { readFresh } from '../runtime/support/journey.ts';
import { plaintextHits } from '../support/plaintext.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Plaintexts no table may hold: one of each kind of personal data, unique to this run. */
const secretsOfThisRun = () => {
  const tag = randomUUID().slice(0, 8);
  return {
    name: `Zebrafish Holdings ${tag}`,
    email: `ceo.${tag}@zebrafish.example`,
    title: `Merger talks ${tag}`,
    text: `the launch code is ${tag}-8841`,
    task: `Build the Zephyr website ${tag}`,
  };
};

/** The whole API journey with personal data everywhere; every value comes back to its tenant in plaintext. */
const journeyWith = async (baseUrl: string, operatorKey: string, secrets: ReturnType<typeof secretsOfThisRun>) => {
  const operator = client(baseUrl, operatorKey);
  const tenantId = `zebra-${randomUUID().slice(0, 8)}`;
  ok(await operator.post('/tenants', { slug: tenantId, name: secrets.name, email: secrets.email, tier: 'pro' }), 201);
  const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci' }), 201);
  expect(await readFresh(operator, `/tenants/${tenantId}?minPosition=${issued.position}`)).toMatchObject({ name: secrets.name, email: secrets.email });
  const me = client(baseUrl, issued.key);
  const { conversationId } = ok(await me.post<{ conversationId: string }>('/conversations', { title: secrets.title }), 201);
  const posted = ok(await me.post<{ position: string }>(`/conversations/${conversationId}/messages`, { text: secrets.text }), 201);
  expect(await readFresh(me, `/conversations/${conversationId}/messages?minPosition=${posted.position}`)).toMatchObject({ items: expect.arrayContaining([expect.objectContaining({ role: 'user', text: secrets.text })]) }); // an agent may have answered already
  expect(await readFresh(me, `/conversations/${conversationId}`)).toMatchObject({ title: secrets.title });
  const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: secrets.task }), 202);
  expect(await readFresh(me, `/knights/${knight.knightId}?minPosition=${knight.position}`)).toMatchObject({ task: secrets.task });
  expect(await readFresh(me, '/tenants/me')).toMatchObject({ name: secrets.name });
};

describe('personal data is ciphertext at rest, in the log and the read models alike', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(async () => h?.close());

  it('PostgreSQL: after a full API journey, no table of the platform holds a name, an email, a title, a message or a task in plaintext', async () => {
    const secrets = secretsOfThisRun();
    await journeyWith(h.baseUrl, h.operatorKey, secrets);
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      const { hits, tables } = await plaintextHits((sql) => db.query(sql), secrets, [h.schemas.events, h.schemas.readModels]);
      expect(tables).toBeGreaterThan(10);
      expect(hits).toEqual([]);
      // the scan does find what is there: the tier and the API key label are not personal
      expect((await plaintextHits((sql) => db.query(sql), { label: 'ci', tier: 'pro' }, [h.schemas.events])).hits.length).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
  });

  it('embedded PGlite (`openclaw-service dev`): the same journey, then the whole data folder database holds none of it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'openclaw-plaintext-'));
    let dev: ReturnType<typeof spawn> | undefined;
    try {
      dev = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'dev'], {
        cwd: root,
        env: { ...process.env, DATA_DIR: dir, PORT: '0', OPERATOR_API_KEY: '', ENCRYPTION_KEY: '', LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      dev.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      const running = dev;
      const exited = new Promise<number | null>((resolve) => running.on('exit', resolve));
      for (const deadline = Date.now() + 60_000; !/operator:\s+ocs_/.test(out); await new Promise((r) => setTimeout(r, 25)))
        if (Date.now() > deadline) throw new Error(`dev did not start: ${out}`);
      const secrets = secretsOfThisRun();
      await journeyWith(/api:\s+(http:\/\/\S+)\/api\/v1/.exec(out)![1]!, /operator:\s+(ocs_\S+)/.exec(out)![1]!, secrets);
      dev.kill('SIGINT');
      expect(await exited).toBe(0);

      const db = await PGlite.create(path.join(dir, 'pglite'));
      try {
        const { hits, tables } = await plaintextHits((sql) => db.query(sql), secrets);
        expect(tables).toBeGreaterThan(10);
        expect(hits).toEqual([]);
      } finally {
        await db.close();
      }
    } finally {
      if (dev && dev.exitCode === null) dev.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    }
  }, 120_000);
});
