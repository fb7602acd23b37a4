import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { registry } from '../../adapters/telemetry/metrics.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createPlatform } from '../../runtime/platform.ts';
import { startProjectorThread } from '../../runtime/projector-host.ts';
import { openStorage } from '../../runtime/stores.ts';
import type { ProjectorHandle } from '../../runtime/projector-host.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const CRASHING = pathToFileURL(path.resolve(import.meta.dirname, '../fixtures/projector-thread-crash.ts')).href;

describe('projector thread', () => {
  const events = uniqueSchema('pt_ev');
  const readModels = uniqueSchema('pt_rm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'projector-thread-'));
  let store: EventStore;
  const env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: events, READ_MODEL_SCHEMA: readModels, LOG_LEVEL: 'silent', PG_POOL_SIZE: '2' };
  beforeAll(async () => {
    store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 2), { schema: events });
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(events);
    await dropSchema(readModels);
    rmSync(dir, { recursive: true, force: true });
  });

  const tenantCreated = async (tenantId: string) =>
    (
      await store.append(
        `tenant-${tenantId}`,
        [{ id: randomUUID(), type: 'TenantCreated', data: { tenantId, name: 'Acme', tier: 'free', at: new Date().toISOString() }, metadata: { tenantId, actor: 'test', correlationId: randomUUID(), causationId: null } }],
        'no_stream',
      )
    ).position;

  /** Resolves once the thread reports `position` applied (or fails after `ms`). */
  const reach = async (handle: ProjectorHandle, position: bigint, ms = 10_000) => {
    const deadline = Date.now() + ms;
    let seen = handle.applied.generation;
    while ((handle.position ?? -1n) < position) {
      if (Date.now() > deadline) throw new Error(`projector thread at ${handle.position}, want ${position}`);
      seen = await handle.applied.wait(seen, 250);
    }
  };

  it('a thread that dies after it started is reported, started again, and goes on projecting', async () => {
    const failures: Error[] = [];
    const handle = await startProjectorThread(
      { ...env, CRASH_MARKER: path.join(dir, 'crashed') },
      { entry: CRASHING, restartDelayMs: 50, onFailure: (error) => failures.push(error) },
    );
    try {
      const position = await tenantCreated(`t-${randomUUID().slice(0, 8)}`);
      await reach(handle, position);
      expect(failures.map((f) => f.message)).toEqual(['projector thread crashed']);
      const next = await tenantCreated(`t-${randomUUID().slice(0, 8)}`);
      await reach(handle, next);
    } finally {
      await handle.stop();
    }
  });

  it('a thread that cannot start fails the start, and leaves nothing running', async () => {
    await expect(startProjectorThread({ ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).rejects.toThrow(/projector thread/);
  });

  it('a platform that fails to start after its projector thread did stops the thread again', async () => {
    const storage = await openStorage(loadConfig(env), 'test');
    const threadConnections = async () =>
      (
        await storage.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [
          `openclaw-projector-thread:${readModels}`.slice(0, 63),
        ])
      ).rows[0]!.n;
    try {
      await expect(
        createPlatform({
          storage,
          eventSchema: events,
          readModelSchema: readModels,
          log: createLogger('silent'),
          env: { JWT_ALG: 'none' }, // refused by the HTTP API, which is wired after the thread started
          projector: 'thread',
          threadEnv: env,
        }),
      ).rejects.toThrow();
      expect(await threadConnections()).toBe(0);
    } finally {
      await storage.close();
    }
  });

  // the worker's own metrics registry is served by nobody (PROJECTOR_MODE=thread is the api role's default)
  it("the thread's applied batches are counted in this process's /metrics", async () => {
    const handle = await startProjectorThread(env);
    try {
      await reach(handle, await tenantCreated(`t-${randomUUID().slice(0, 8)}`));
      expect(await registry.metrics()).toMatch(new RegExp(`openclaw_projector_batch_events_count\\{schema="${readModels}"\\} [1-9]`));
    } finally {
      await handle.stop();
    }
  });
});
