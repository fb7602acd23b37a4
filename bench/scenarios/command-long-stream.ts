import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import { createTenant } from '../../commands/tenants/create-tenant.ts';
import { conversationDecider } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { percentile, round } from '../lib.ts';
import type { BenchResult } from '../lib.ts';

const LONG = 100_000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000);

/**
 * The command shell posting to a conversation holding 100,000 events vs a fresh one, on the
 * PostgreSQL store. Samples alternate between the two so drift hits both alike.
 */
export const commandLongStream = async (url: string): Promise<BenchResult> => {
  const schema = `bench_cls_${process.pid}`;
  const store = await createPostgresEventStore({ connectionString: url, schema, poolSize: 4 });
  try {
    const tenantId = 'benchlong' as TenantId;
    const caller: Caller = { tenantId, actor: 'bench', correlationId: 'bench' };
    const ports: CommandPorts = {
      shell: createCommandShell({ store }),
      clock: () => new Date(),
      newId: randomUUID,
      usage: { messagesToday: async () => 0, activeKnights: async () => 0 }, // usage read model is not under test here
    };
    await createTenant(ports, { ...caller, tenantId: 'platform' as TenantId }, { slug: tenantId, name: 'Bench', tier: 'enterprise' });
    const long = await startConversation(ports, caller, { title: 'long' });
    const fresh = await startConversation(ports, caller, { title: 'fresh' });
    const meta = { tenantId, actor: 'bench', correlationId: 'bench', causationId: null };
    for (let i = 0; i < LONG - 1; i += 1_000) {
      const n = Math.min(1_000, LONG - 1 - i);
      const events = Array.from({ length: n }, (_, k) => ({
        id: randomUUID(),
        type: 'MessagePosted',
        data: { messageId: `seed-${i + k}`, role: 'user', channel: 'api', text: 'seed message', at: new Date().toISOString() },
        metadata: meta,
      }));
      await store.append(conversationStream(tenantId, long.conversationId as never), events, 'any');
    }
    // Cold: the first command folds all 100,000 events once; then the cache keeps the state.
    const coldShell = createCommandShell({ store });
    const t0 = performance.now();
    await coldShell.state(conversationDecider, conversationStream(tenantId, long.conversationId as never));
    const coldMs = performance.now() - t0;

    const timings: Record<'long' | 'fresh', number[]> = { long: [], fresh: [] };
    for (let i = 0; i < SAMPLES + 50; i++) {
      for (const which of ['long', 'fresh'] as const) {
        const id = which === 'long' ? long.conversationId : fresh.conversationId;
        const s = performance.now();
        await postMessage(ports, caller, id, { text: `message ${i}` });
        if (i >= 50) timings[which].push(performance.now() - s); // 50 warm-up rounds
      }
    }
    const check = await store.readStream(conversationStream(tenantId, long.conversationId as never), { fromRevision: LONG + SAMPLES + 49 });
    if (check.length !== 1) throw new Error('long conversation did not receive every command');
    for (const list of Object.values(timings)) list.sort((a, b) => a - b);
    const longP50 = percentile(timings.long, 50);
    const freshP50 = percentile(timings.fresh, 50);
    return {
      scenario: 'command-long-stream',
      metric: 'median_command_latency_long_stream',
      value: round(longP50, 3),
      unit: 'ms',
      p50: round(longP50, 3),
      p99: round(percentile(timings.long, 99), 3),
      baseline: { name: 'same command on a fresh conversation (median ms)', value: round(freshP50, 3) },
      ratio: round(longP50 / freshP50),
      notes: `${LONG} events in the long stream; ${SAMPLES} samples each, interleaved; fresh p99 ${round(percentile(timings.fresh, 99), 3)} ms; the first command on the long stream after a cold start folds it once: ${round(coldMs, 0)} ms`,
    };
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
};
