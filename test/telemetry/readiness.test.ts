import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, ok } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

interface Ready {
  readonly status: string;
  readonly checks: Record<string, { ok: boolean; detail?: string }>;
}

const readyz = async (stack: ApiHarness) => {
  const res = await fetch(`${stack.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready };
};

const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
};

describe('/healthz and /readyz', () => {
  let stack: ApiHarness;
  const sql = new pg.Client({ connectionString: TEST_DATABASE_URL });
  beforeAll(async () => {
    stack = await startApiHarness();
    await sql.connect();
  }, 60_000);
  afterAll(async () => {
    await sql.end();
    await stack?.close();
  });

  it('is ready with the database reachable and every projection caught up, naming each check', async () => {
    expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(200);
    const { status, body } = await readyz(stack);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.database).toEqual({ ok: true });
    expect(body.checks['projection:tenants']).toMatchObject({ ok: true });
    expect(body.checks[`projector:${stack.schemas.readModels}`]).toMatchObject({ ok: true });
  });

  it('a projector that keeps failing makes the process not ready, saying why; it is ready again once the projector recovers', async () => {
    const rm = stack.schemas.readModels;
    await sql.query(`ALTER TABLE ${rm}.tenants RENAME TO tenants_away`);
    try {
      ok(await client(stack.baseUrl, stack.operatorKey).post('/tenants', { slug: slug('r'), name: 'Ready', tier: 'free' }), 201);
      const failing = await until('/readyz to show the failing projector', async () => {
        const r = await readyz(stack);
        return r.status === 503 && r.body.checks[`projector:${rm}`]?.ok === false ? r : undefined;
      });
      expect(failing.body.status).toBe('not_ready');
      expect(failing.body.checks[`projector:${rm}`]!.detail).toMatch(/failed \d+ times in a row: .*tenants/);
      expect(failing.body.checks.database).toEqual({ ok: true });
      expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(200); // alive all along: only readiness drops
    } finally {
      await sql.query(`ALTER TABLE ${rm}.tenants_away RENAME TO tenants`);
    }
    const recovered = await until('/readyz to recover', async () => {
      const r = await readyz(stack);
      return r.status === 200 ? r : undefined;
    });
    expect(recovered.body.checks[`projector:${rm}`]).toEqual({ ok: true });
  }, 60_000);
});
