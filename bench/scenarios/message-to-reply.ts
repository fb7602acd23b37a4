import { round, percentile, seconds } from '../lib.ts';
import type { BenchResult } from '../lib.ts';
import { call, provisionTenants, settle, startApiStack } from './api-stack.ts';
import type { ApiStack } from './api-stack.ts';

const RATE = 200; // user messages a second
const TENANTS = 20;
const CONVERSATIONS = 5;
const TICK_MS = 50;

interface Sample {
  readonly acceptedAt: number;
  /** The user message's position (the baseline waits for it), or undefined until accepted. */
  readonly position: bigint;
}

/**
 * Open loop: RATE user messages a second over the API for `secs`; for each, the time from the
 * 201 (accepted) to the moment the answer is readable, i.e. the read models reached the position
 * of the agent's reply (what `?minPosition=` waits for). With agents: the reply's position comes
 * from a subscription to the log (MessagePosted by the agent, `inReplyTo` the user message).
 * Without: the user message's own position (accepted → readable).
 */
const run = async (stack: ApiStack, secs: number, withAgent: boolean) => {
  const tenants = await provisionTenants(stack, { tenants: TENANTS, conversations: CONVERSATIONS, tier: 'enterprise', prefix: withAgent ? 'bench-reply' : 'bench-noagent' });
  const samples = new Map<string, Sample>();
  const readable: number[] = [];
  const pendingReplies = new Map<string, bigint>();
  /** Answers not yet readable: the position that must be projected, and when the user's message was accepted. */
  const waiting: { position: bigint; acceptedAt: number }[] = [];
  let failures = 0;
  const settleOne = (messageId: string, position: bigint) => {
    const sample = samples.get(messageId);
    if (!sample) return void pendingReplies.set(messageId, position);
    waiting.push({ position, acceptedAt: sample.acceptedAt });
  };
  // One watcher of the projector's checkpoint (what `?minPosition=` waits for), woken by each applied batch.
  let watching = true;
  const applied = stack.platform.projector?.applied;
  const watcher = (async () => {
    while (watching || waiting.length > 0) {
      const seen = applied?.generation ?? 0;
      const { position } = await stack.platform.reads.waitFor(0n, 0).catch(() => ({ position: undefined }));
      const now = performance.now();
      if (position !== undefined)
        for (let i = waiting.length - 1; i >= 0; i--)
          if (waiting[i]!.position <= position) readable.push(now - waiting.splice(i, 1)[0]!.acceptedAt);
      if (applied) await applied.wait(seen, 50);
      else await new Promise((resolve) => setTimeout(resolve, 5));
      if (!watching && performance.now() - now > 30_000) break;
    }
  })();
  const subscription = withAgent
    ? stack.storage.store.subscribe({ after: await stack.storage.store.headPosition(), filter: { categories: ['conversation'] } }, async (events) => {
        for (const event of await stack.storage.codec.decode(events, 'stored'))
          if (event.type === 'MessagePosted' && event.data.role === 'agent' && event.data.inReplyTo) settleOne(event.data.inReplyTo, event.position);
      })
    : undefined;
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  const started = performance.now();
  while (performance.now() - started < secs * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * RATE) - sent;
    for (let i = 0; i < due; i++) {
      const tenant = tenants[sent % TENANTS]!;
      const conversationId = tenant.conversationIds[Math.floor(sent / TENANTS) % CONVERSATIONS]!;
      sent += 1;
      inFlight.push(
        (async () => {
          try {
            const posted = await call<{ messageId: string; position: string }>(stack.baseUrl, tenant.token, 'POST', `/conversations/${conversationId}/messages`, 201, { text: 'what do I have?' });
            const sample = { acceptedAt: performance.now(), position: BigInt(posted.position) };
            samples.set(posted.messageId, sample);
            if (!withAgent) return settleOne(posted.messageId, sample.position);
            const early = pendingReplies.get(posted.messageId);
            if (early !== undefined) {
              pendingReplies.delete(posted.messageId);
              // the reply was appended before the client even saw its 201
              settleOne(posted.messageId, early);
            }
          } catch {
            failures += 1;
          }
        })(),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  await Promise.all(inFlight);
  const deadline = performance.now() + 30_000;
  while (readable.length + failures < sent && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await subscription?.close();
  watching = false;
  waiting.length = 0;
  await watcher;
  readable.sort((a, b) => a - b);
  return { sent, answered: readable.length, failures, p50: percentile(readable, 50), p99: percentile(readable, 99), elapsed: (performance.now() - started) / 1000 };
};

/**
 * `message-to-reply`: the local agent on PostgreSQL behind the API, 200 user messages a second;
 * p99 from accepted to the agent's reply readable. Baseline, same run: the same load on a stack
 * without agents, accepted → the user message readable.
 */
export const messageToReplyBench = async (url: string): Promise<BenchResult> => {
  const secs = seconds(20);
  const env = { TIER_REQUESTS_PER_MINUTE: 'enterprise=1000000', OPERATOR_REQUESTS_PER_MINUTE: '1000000', AGENT_RUNTIME: 'local' };
  const baselineStack = await startApiStack(url, env);
  let baseline: Awaited<ReturnType<typeof run>>;
  try {
    baseline = await run(baselineStack, secs, false);
    await settle(baselineStack);
  } finally {
    await baselineStack.close();
  }
  const stack = await startApiStack(url, env, { agents: true });
  let agent: Awaited<ReturnType<typeof run>>;
  try {
    agent = await run(stack, secs, true);
    await settle(stack);
  } finally {
    await stack.close();
  }
  return {
    scenario: 'message-to-reply',
    metric: 'p99 accepted → agent reply readable',
    value: round(agent.p99),
    unit: 'ms',
    p50: round(agent.p50),
    p99: round(agent.p99),
    baseline: { name: 'p99 accepted → user message readable, no agent (same load, same run)', value: round(baseline.p99) },
    ratio: round(agent.p99 / baseline.p99),
    notes:
      `${RATE} user messages/s for ${secs}s over the API (open loop, ${TENANTS} tenants × ${CONVERSATIONS} conversations, load generator in the same process), local agent, PostgreSQL store, inline projector; ` +
      `agent: ${agent.answered}/${agent.sent} replies readable (${agent.failures} failures), p50 ${round(agent.p50)} ms; ` +
      `baseline: ${baseline.answered}/${baseline.sent} readable, p50 ${round(baseline.p50)} ms; target p99 ≤ 100 ms`,
    extra: { sent: agent.sent, answered: agent.answered, failures: agent.failures, baselineP50: round(baseline.p50), baselineSent: baseline.sent },
  };
};
