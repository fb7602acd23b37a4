import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore, pgPoolDb } from '../../adapters/event-store/postgres.ts';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import { createTenant } from '../../commands/tenants/create-tenant.ts';
import { conversationDecider } from '../../domain/index.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { benchCodec } from '../codec.ts';
import { percentile, round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';

const LONG = 100_000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000);

type Setup = { ports: CommandPorts; caller: Caller; long: string; fresh: string; coldMs: number };

/** A tenant with a 100,000-event conversation and a fresh one, written and folded through `codec`. */
const prepare = async (store: EventStore, codec: EventCodec, tenantId: TenantId): Promise<Setup> => {
  const caller: Caller = { tenantId, actor: 'bench', correlationId: 'bench' };
  const ports: CommandPorts = {
    shell: createCommandShell({ store, codec }),
    clock: () => new Date(),
    newId: randomUUID,
    usage: { messagesToday: async () => 0, activeKnights: async () => 0 }, // usage read model is not under test here
  };
  await createTenant(ports, { ...caller, tenantId: asTenantId('platform') }, { slug: tenantId, name: 'Bench', tier: 'enterprise' });
  const long = await startConversation(ports, caller, { title: 'long' });
  const fresh = await startConversation(ports, caller, { title: 'fresh' });
  const stream = conversationStream(tenantId, asConversationId(long.conversationId));
  const meta = { tenantId, actor: 'bench', correlationId: 'bench', causationId: null };
  for (let i = 0; i < LONG - 1; i += 1_000) {
    const n = Math.min(1_000, LONG - 1 - i);
    const events = Array.from({ length: n }, (_, k) => ({
      id: randomUUID(),
      event: { type: 'MessagePosted', data: { messageId: `seed-${i + k}`, role: 'user', channel: 'api', text: 'seed message', external: null, inReplyTo: null, at: new Date().toISOString() } } as const,
    }));
    await store.append(stream, await codec.encode('conversation', stream, events, meta), 'any');
  }
  // Cold: the first command folds all 100,000 events once (decoding and decrypting each); then the cache keeps the state.
  const t0 = performance.now();
  await createCommandShell({ store, codec }).state(conversationDecider, stream);
  return { ports, caller, long: long.conversationId, fresh: fresh.conversationId, coldMs: performance.now() - t0 };
};

/**
 * The command shell posting to a conversation holding 100,000 events vs a fresh one, on the
 * PostgreSQL store, with encryption on (the product) and off. Samples alternate between all four
 * so drift hits them alike.
 */
export const commandLongStream = async (url: string): Promise<BenchResult> => {
  const schema = `bench_cls_${process.pid}`;
  const store = await createPostgresEventStore({ connectionString: url, schema, poolSize: 4 });
  const keysDb = pgPoolDb(url, 2);
  try {
    const setups = {
      on: await prepare(store, await benchCodec(keysDb, schema, true), asTenantId('benchlong')),
      off: await prepare(store, await benchCodec(keysDb, schema, false), asTenantId('benchplain')),
    };
    const timings: Record<string, number[]> = { 'on.long': [], 'on.fresh': [], 'off.long': [], 'off.fresh': [] };
    for (let i = 0; i < SAMPLES + 50; i++) {
      for (const mode of ['on', 'off'] as const) {
        for (const which of ['long', 'fresh'] as const) {
          const setup = setups[mode];
          const s = performance.now();
          await postMessage(setup.ports, setup.caller, setup[which], { text: `message ${i}` });
          if (i >= 50) timings[`${mode}.${which}`]!.push(performance.now() - s); // 50 warm-up rounds
        }
      }
    }
    const check = await store.readStream(conversationStream(asTenantId('benchlong'), asConversationId(setups.on.long)), { fromRevision: LONG + SAMPLES + 49 });
    if (check.length !== 1) throw new Error('long conversation did not receive every command');
    for (const list of Object.values(timings)) list.sort((a, b) => a - b);
    const p50 = (key: string) => percentile(timings[key]!, 50);
    const p99 = (key: string) => percentile(timings[key]!, 99);
    return {
      scenario: 'command-long-stream',
      metric: 'median_command_latency_long_stream',
      value: round(p50('on.long'), 3),
      unit: 'ms',
      p50: round(p50('on.long'), 3),
      p99: round(p99('on.long'), 3),
      baseline: { name: 'same command on a fresh conversation (median ms)', value: round(p50('on.fresh'), 3) },
      ratio: round(p50('on.long') / p50('on.fresh')),
      notes:
        `${LONG} events in the long stream; ${SAMPLES} samples each, interleaved; encryption on (message text sealed on write, opened on fold); ` +
        `fresh p99 ${round(p99('on.fresh'), 3)} ms; encryption off, same run: long ${round(p50('off.long'), 3)} ms, fresh ${round(p50('off.fresh'), 3)} ms median; ` +
        `a cold start folds the long stream once: ${round(setups.on.coldMs, 0)} ms encrypted, ${round(setups.off.coldMs, 0)} ms plain`,
      extra: {
        encryptionOffLongMs: round(p50('off.long'), 3),
        encryptionOffFreshMs: round(p50('off.fresh'), 3),
        encryptionCost: round(p50('on.long') / p50('off.long') - 1, 3),
        coldFoldEncryptedMs: round(setups.on.coldMs, 0),
        coldFoldPlainMs: round(setups.off.coldMs, 0),
      },
    };
  } finally {
    await store.close();
    await keysDb.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
};
