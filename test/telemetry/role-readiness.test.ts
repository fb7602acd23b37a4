import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { readiness } from '../../adapters/telemetry/health.ts';
import { loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startRoles } from '../../runtime/roles.ts';
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
});
