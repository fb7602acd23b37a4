import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployKnight } from '../../commands/knights/deploy-knight.ts';
import type { CommandPorts } from '../../commands/context.ts';
import type { TenantId } from '../../domain/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { projectorOn } from '../../runtime/projector.ts';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

/**
 * Two API processes (replicas) on one PostgreSQL, and a projector of their own that the test stops
 * while deploys race: the read model then lags as far as it can, and only a reservation that both
 * replicas see keeps a free tenant (1 knight at once) from getting a computer per replica.
 */
describe('knights at once across API replicas', () => {
  const schemas = { events: uniqueSchema('rep_ev'), readModels: uniqueSchema('rep_rm') };
  const log = createLogger('silent');
  const env = { JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long', ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  let a: Stack;
  let b: Stack;
  let projector: ReturnType<typeof projectorOn>;

  /** A free tenant with one key, and a client of it on each replica. */
  const freeTenant = async () => {
    const { tenantId, key } = await newTenant(client(a.baseUrl, a.operatorKey), 'free');
    return { tenantId, onA: client(a.baseUrl, key), onB: client(b.baseUrl, key) };
  };
  /** Deploys with the projector stopped: neither replica's read model knows of the other's knights. */
  const withProjectorStopped = async <T>(work: () => Promise<T>): Promise<T> => {
    await projector.stop();
    try {
      return await work();
    } finally {
      projector.start();
    }
  };
  const deploy = (on: Client, task: string) => on.post<{ knightId: string; position: string; code?: string }>('/knights', { task });

  beforeAll(async () => {
    // each replica projects nothing itself (as with a separate projector role) and hears of batches by NOTIFY
    a = await startStack({ databaseUrl: TEST_DATABASE_URL, schemas, log, env, poolSize: 4, projector: 'none' });
    b = await startStack({ databaseUrl: TEST_DATABASE_URL, schemas, log, env, poolSize: 4, projector: 'none' });
    projector = projectorOn(a.storage, log, { schema: schemas.readModels });
    projector.start();
  });
  afterAll(async () => {
    await projector?.stop();
    await b?.close();
    await a?.close();
    await dropSchema(schemas.events);
    await dropSchema(schemas.readModels);
  });

  it('given a free tenant, when both replicas get a deploy at the same moment, then one is accepted and the other refused with knight_limit_reached', async () => {
    const { onA, onB } = await freeTenant();
    const replies = await withProjectorStopped(() => Promise.all([deploy(onA, 'Job on A'), deploy(onB, 'Job on B')]));
    expect(replies.map((r) => r.status).sort()).toEqual([202, 403]);
    expect(replies.find((r) => r.status === 403)!.body).toMatchObject({ code: 'knight_limit_reached', limit: 1 });
    const accepted = replies.find((r) => r.status === 202)!.body;
    const listed = ok(await onB.get<{ items: { knightId: string }[] }>(`/knights?minPosition=${accepted.position}`), 200);
    expect(listed.items.map((k) => k.knightId)).toEqual([accepted.knightId]);
  });

  it('a deploy accepted on one replica holds the place on the other before the read model shows it; terminating it frees the place', async () => {
    const { onA, onB } = await freeTenant();
    const first = await withProjectorStopped(async () => {
      const accepted = ok(await deploy(onA, 'First'), 202);
      const refused = await deploy(onB, 'Second');
      expect([refused.status, refused.body.code]).toEqual([403, 'knight_limit_reached']);
      return accepted;
    });
    const terminated = ok(await onB.delete<{ position: string }>(`/knights/${first.knightId}`), 202);
    ok(await onA.get(`/knights?minPosition=${terminated.position}`), 200);
    ok(await deploy(onA, 'After the first ended'), 202);
  });

  it('a deploy whose append failed gives its place back: the next deploy, on the other replica, is accepted', async () => {
    const { tenantId, onB } = await freeTenant();
    const failingAppend: CommandPorts = {
      ...a.platform.ports,
      shell: { ...a.platform.ports.shell, handle: () => Promise.reject(Object.assign(new Error('connection lost'), { code: 'store_unavailable' })) },
    };
    const caller = { tenantId: tenantId as TenantId, actor: 'apikey:test', correlationId: 'failed-append' };
    await expect(withProjectorStopped(() => deployKnight(failingAppend, caller, { task: 'Never appended', cpu: 2, ramGb: 4 }))).rejects.toThrow('connection lost');
    ok(await withProjectorStopped(() => deploy(onB, 'Takes the place')), 202);
  });
});
