import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, onTestFinished } from 'vitest';
import { pgPoolDb } from '../../adapters/event-store/postgres.ts';
import { createSqlEventStore } from '../../adapters/event-store/sql/store.ts';
import { migrateReadModels, readCheckpoint } from '../../adapters/projections/projector.ts';
import { createReadSide } from '../../adapters/projections/read-side.ts';
import { rebuildProjections } from '../../adapters/projections/rebuild.ts';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { closeConversation } from '../../commands/conversations/close-conversation.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { deployKnight } from '../../commands/knights/deploy-knight.ts';
import { terminateKnight } from '../../commands/knights/terminate-knight.ts';
import { issueApiKey } from '../../commands/tenants/api-keys.ts';
import { reinstateTenant, suspendTenant } from '../../commands/tenants/change-tenant.ts';
import { createTenant } from '../../commands/tenants/create-tenant.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import type { TenantId } from '../../domain/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { PROJECTIONS } from '../../projections/index.ts';
import { openTestCodec } from '../support/codec.ts';
import { uniqueTenant } from '../support/ids.ts';
import { expectSameReadModels } from '../support/read-models.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');
const KILLS = 20;

describe('projector crash safety', () => {
  const events = uniqueSchema('crash_ev');
  const live = uniqueSchema('crash_rm');
  const fresh = uniqueSchema('crash_fresh');
  let store: EventStore;
  const db = pgPoolDb(TEST_DATABASE_URL, 4);
  beforeAll(async () => {
    store = await createSqlEventStore(pgPoolDb(TEST_DATABASE_URL, 4), { schema: events });
    await migrateReadModels(db, live, PROJECTIONS);
  });
  afterAll(async () => {
    await store.close();
    await db.close();
    for (const s of [events, live, fresh]) await dropSchema(s);
  });

  const spawnProjector = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'projector'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, EVENT_STORE: 'postgres', EVENT_STORE_SCHEMA: events, READ_MODEL_SCHEMA: live, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const running = new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => c.toString().includes('projector running') && resolve()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return { child, running, exited };
  };

  it(`given kill -9 of the projector ${KILLS} times under load, then the read models equal a fresh rebuild row for row`, async () => {
    // the projector role runs without ENCRYPTION_KEY: it copies ciphertext, it never decrypts
    const { codec, close: closeCodec } = await openTestCodec(events, { db });
    onTestFinished(closeCodec);
    const reads = createReadSide({ db, schema: live, store, codec, projections: PROJECTIONS });
    const ports: CommandPorts = {
      shell: createCommandShell({ store, codec }),
      clock: () => new Date(),
      newId: randomUUID,
      usage: {
        messagesToday: (t, day) => reads.forTenant(t, (r) => r.usage(day)).then((u) => u.messagesToday),
        activeKnights: (t) => reads.forTenant(t, (r) => r.usage('2026-01-01')).then((u) => u.activeKnights),
      },
    };
    const operator: Caller = { tenantId: 'platform' as TenantId, actor: 'operator', correlationId: 'crash' };
    const tenants = Array.from({ length: 4 }, () => uniqueTenant('crash'));
    for (const t of tenants) await createTenant(ports, operator, { slug: t, name: `Crash ${t}`, tier: 'enterprise' });

    let loading = true;
    const load = (async () => {
      let round = 0;
      while (loading) {
        round++;
        await Promise.all(
          tenants.map(async (t) => {
            const as: Caller = { tenantId: t as TenantId, actor: 'apikey:crash', correlationId: randomUUID() };
            const { conversationId } = await startConversation(ports, as, { title: `round ${round}` });
            for (let m = 0; m < 5; m++) await postMessage(ports, as, conversationId, { text: `message ${m}` });
            if (round % 3 === 0) await closeConversation(ports, as, conversationId, { reason: 'done' });
            if (round % 3 === 1) {
              // knights still terminating count toward the tier's limit: hitting it is part of the load
              const deployed = await deployKnight(ports, as, { task: 'Build website', cpu: 2, ramGb: 4 }).catch((e: { code?: string }) => {
                if (e.code !== 'knight_limit_reached') throw e;
              });
              if (deployed && round % 2 === 0) await terminateKnight(ports, as, deployed.knightId, { reason: 'done' });
            }
            if (round % 5 === 0 && round <= 50) await issueApiKey(ports, operator, t as TenantId, { label: `k${round}`, scope: 'tenant' });
            if (round % 7 === 0) {
              await suspendTenant(ports, operator, t as TenantId, { reason: 'audit' });
              await reinstateTenant(ports, operator, t as TenantId);
            }
          }),
        );
      }
    })();

    for (let kill = 0; kill < KILLS; kill++) {
      const projector = spawnProjector();
      await projector.running;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 250));
      projector.child.kill('SIGKILL');
      await projector.exited;
    }
    loading = false;
    await load;

    const last = spawnProjector();
    await last.running;
    const head = (await store.headPosition())!;
    const deadline = Date.now() + 60_000;
    while (((await readCheckpoint(db, { schema: live, suffix: '' }, PROJECTIONS)) ?? -1n) < head) {
      if (Date.now() > deadline) throw new Error('projector did not catch up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    last.child.kill('SIGTERM');
    await last.exited;

    await migrateReadModels(db, fresh, PROJECTIONS);
    await rebuildProjections({ db, store, codec, schema: fresh, projections: PROJECTIONS });
    await expectSameReadModels(live, fresh, { nonEmpty: PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name)).filter((t) => t !== 'knight_usage') });
  }, 480_000); // 20 process starts: minutes on a loaded 2-core machine
});
