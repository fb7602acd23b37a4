import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { readiness } from '../../adapters/telemetry/health.ts';
import { loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startRoles } from '../../runtime/roles.ts';
import { openStorage } from '../../runtime/stores.ts';
import { watchDatabase, watchReadModels } from '../../runtime/telemetry.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

// A role without read models of its own (bots, saga, agents, billing, ws) still depends on the database:
// its /readyz must say so, or a load balancer keeps sending work to a process that cannot reach it.
describe('readiness of a role without read models', () => {
  const schemas = { events: uniqueSchema('rr_ev'), readModels: uniqueSchema('rr_rm') };
  afterAll(async () => {
    await dropSchema(schemas.events);
    await dropSchema(schemas.readModels);
  });

  it('the bots role alone: readiness checks the database, and stops checking once the role stopped', async () => {
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      EVENT_STORE: 'postgres',
      EVENT_STORE_SCHEMA: schemas.events,
      READ_MODEL_SCHEMA: schemas.readModels,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      BOTS_SEND_JOURNAL: 'off',
    };
    const running = await startRoles(['bots'], loadConfig(env), createLogger('silent'), env);
    try {
      const ready = await readiness({ maxLagSeconds: 60, maxLagEvents: 1_000_000 });
      expect(ready.checks.database).toEqual({ ok: true });
    } finally {
      await running.stop();
    }
    expect((await readiness({ maxLagSeconds: 60, maxLagEvents: 1_000_000 })).checks.database).toBeUndefined();
  }, 60_000);

  // `start --roles api,projector`: the process watches its database once; the projector role (stopped before
  // the API, roles stop in reverse) and the API's platform watch only their read models, so neither one's stop
  // takes the database out of the readiness the still-running API answers with
  it("read-model watchers (the projector role's, the API platform's) coming and going leave the process's one database check alone", async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: schemas.events, READ_MODEL_SCHEMA: schemas.readModels };
    const storage = await openStorage(loadConfig(env), 'test');
    const unwatchDatabase = watchDatabase(storage); // as startRoles does for the storage it opens
    try {
      const platform = watchReadModels(storage, schemas.readModels);
      const projectorRole = watchReadModels(storage, schemas.readModels);
      projectorRole();
      expect((await readiness({ maxLagSeconds: 60, maxLagEvents: 1_000_000 })).checks.database).toEqual({ ok: true });
      platform();
      expect((await readiness({ maxLagSeconds: 60, maxLagEvents: 1_000_000 })).checks.database).toEqual({ ok: true });
    } finally {
      unwatchDatabase();
      await storage.close();
    }
    expect((await readiness({ maxLagSeconds: 60, maxLagEvents: 1_000_000 })).checks.database).toBeUndefined();
  }, 60_000);
});
