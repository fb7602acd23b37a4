import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conversationDecider, RECENT_MESSAGE_IDS, windowSize } from '../../domain/conversation/index.ts';
import type { ConversationCommand, ConversationEvent, ConversationState } from '../../domain/conversation/index.ts';
import { knightDecider } from '../../domain/knight/index.ts';
import type { KnightCommand, KnightEvent, KnightSpec, KnightState } from '../../domain/knight/index.ts';
import { fold } from '../../domain/shared/decider.ts';
import type { Decider } from '../../domain/shared/decider.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { ConversationId, KnightId, TenantId } from '../../domain/shared/ids.ts';
import { MAX_ACTIVE_API_KEYS, tenantDecider } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantEvent, TenantFacts, TenantState } from '../../domain/tenant/index.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';
import type { Tier } from '../../domain/tiers.ts';

const NUM_RUNS = 200;
const T0 = '2025-03-01T10:00:00.000Z';
const HASH = 'sha256:0123456789abcdef01';
const at = fc.constantFrom(T0, '2025-03-02T11:30:00.000Z');
/** A few plausible values, or any short string. */
const text = (...plausible: string[]) => fc.oneof(fc.constantFrom(...plausible), fc.string({ maxLength: 20 }));
const tier = fc.constantFrom<Tier>('free', 'pro', 'enterprise', 'gold' as Tier);
const tenantFacts: fc.Arbitrary<TenantFacts> = fc.record({
  status: fc.constantFrom('active', 'active', 'active', 'suspended', 'erased', 'none'),
  tier,
});
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

interface Step<C, E, S> {
  readonly before: S;
  readonly command: C;
  readonly events: readonly E[];
  readonly after: S;
}

/**
 * Applies commands one by one, skipping refusals, and checks what holds for every decider:
 * decide is deterministic and leaves the state untouched, and folding the log again from the
 * initial state gives the same state, twice.
 */
const run = <C, E, S>(decider: Decider<C, E, S>, commands: readonly C[], check: (step: Step<C, E, S>) => void) => {
  let state = decider.initialState();
  const log: E[] = [];
  const refusals: string[] = [];
  for (const command of commands) {
    const snapshot = structuredClone(state);
    let events: readonly E[];
    try {
      events = decider.decide(command, state);
    } catch (error) {
      if (!isAppError(error)) throw error;
      refusals.push(error.code);
      expect(() => decider.decide(command, state)).toThrow(expect.objectContaining({ code: error.code }));
      continue;
    }
    expect(decider.decide(command, state)).toEqual(events);
    expect(state).toEqual(snapshot);
    const after = events.reduce(decider.evolve, state);
    check({ before: state, command, events, after });
    log.push(...events);
    state = after;
  }
  expect(fold(decider, log)).toEqual(state);
  expect(fold(decider, log)).toEqual(fold(decider, log));
  return refusals;
};

describe('tenant properties', () => {
  const keyId = fc.constantFrom(...Array.from({ length: 24 }, (_, i) => `k${i}`), '__proto__', 'bad id');
  const create: fc.Arbitrary<TenantCommand> = fc.record({
    type: fc.constant('CreateTenant'),
    tenantId: fc.constantFrom('acme', 'Not A Slug') as fc.Arbitrary<TenantId>,
    name: text('Acme Inc', '  '),
    email: fc.constantFrom(null, 'ops@acme.example', 'nope'),
    tier,
    at,
  });
  const command: fc.Arbitrary<TenantCommand> = fc.oneof(
    create,
    weighted(
      8,
      fc.record({
        type: fc.constant('IssueApiKey'),
        keyId,
        scope: fc.constantFrom('tenant', 'auditor'),
        label: text('ci'),
        hash: fc.constantFrom(HASH, 'x'),
        at,
      }),
    ),
    weighted(2, fc.record({ type: fc.constant('RevokeApiKey'), keyId, at })),
    fc.record({ type: fc.constant('ChangeTenantTier'), tier, at }),
    fc.record({
      type: fc.constant('ConnectTelegramBot'),
      botUsername: fc.constantFrom('acme_bot', 'x'),
      botId: fc.constantFrom(1, 2, -1),
      token: fc.constantFrom('1:AAAA', '2:BBBB', 'has space'),
      webhookSecretHash: fc.constant(HASH),
      at,
    }),
    fc.record({ type: fc.constant('DisconnectTelegramBot'), at }),
    fc.record({
      type: fc.constant('ConnectWhatsAppNumber'),
      phoneNumberId: fc.constantFrom('1065', '2', 'abc'),
      displayPhoneNumber: fc.constant('+1 555 0100'),
      accessToken: fc.constant('EAAB'),
      appSecret: fc.constant('secret'),
      verifyTokenHash: fc.constant(HASH),
      at,
    }),
    fc.record({ type: fc.constant('DisconnectWhatsAppNumber'), at }),
    fc.record({ type: fc.constant('RequestAgentVm'), requestId: fc.constantFrom('r1', 'r2'), at }),
    fc.record({
      type: fc.constant('MarkAgentVmReady'),
      requestId: fc.constantFrom('r1', 'r2'),
      vmId: fc.constantFrom('vm1', 'vm2'),
      bridgeTokenHash: fc.constantFrom(HASH, 'x'),
      at,
    }),
    fc.record({
      type: fc.constant('FailAgentVm'),
      requestId: fc.constantFrom('r1', 'r2'),
      stage: fc.constantFrom('provisioning' as const, 'bootstrap' as const),
      reason: text('crash'),
      at,
    }),
    fc.record({ type: fc.constant('SuspendTenant'), reason: text('unpaid'), at }),
    fc.record({ type: fc.constant('ReinstateTenant'), at }),
    fc.record({ type: fc.constant('EraseTenant'), at }),
  );
  /** A valid creation followed by up to 22 distinct valid keys, so the key limit is within reach. */
  const plausibleStart = fc.integer({ min: 0, max: 22 }).map((keys): TenantCommand[] => [
    { type: 'CreateTenant', tenantId: 'acme' as TenantId, name: 'Acme Inc', email: null, tier: 'free', at: T0 },
    ...Array.from({ length: keys }, (_, i): TenantCommand => ({
      type: 'IssueApiKey',
      keyId: `k${i}`,
      scope: 'tenant',
      label: 'ci',
      hash: HASH,
      at: T0,
    })),
  ]);
  // SuspendTenant: a suspension for another reason is recorded (the latest reason is kept)
  const allowedWhileSuspended = new Set(['ReinstateTenant', 'EraseTenant', 'RevokeApiKey', 'MarkAgentVmReady', 'FailAgentVm', 'SuspendTenant']);

  const check = ({ before, command, events, after }: Step<TenantCommand, TenantEvent, TenantState>) => {
    if (before.status === 'suspended' && !allowedWhileSuspended.has(command.type)) expect(events).toEqual([]);
    if (before.status === 'erased') expect(after.status).toBe('erased');
    if (after.status === 'active' || after.status === 'suspended') {
      const active = Object.values(after.apiKeys).filter((key) => key.status === 'active').length;
      expect(after.activeApiKeys).toBe(active);
      expect(active).toBeLessThanOrEqual(MAX_ACTIVE_API_KEYS);
    }
  };

  it('keeps its invariants under random command sequences', () => {
    const refused = new Set<string>();
    const start = fc.oneof(create.map((c) => [c]), plausibleStart);
    fc.assert(
      fc.property(start, fc.array(command, { maxLength: 80 }), (first, rest) => {
        run(tenantDecider, [...first, ...rest], check).forEach((code) => refused.add(code));
      }),
      { numRuns: NUM_RUNS },
    );
    // the generators must reach the rules they are meant to exercise
    expect(refused).toContain('api_key_limit');
    expect(refused).toContain('tenant_suspended');
  });
});

describe('conversation properties', () => {
  const messageId = fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'a1', 'a2', 'a3', 'bad id');
  const channel = fc.constantFrom('api', 'telegram', 'telegram', 'whatsapp');
  const start: fc.Arbitrary<ConversationCommand> = fc.record({
    type: fc.constant('StartConversation'),
    conversationId: fc.constantFrom('c1', 'bad id') as fc.Arbitrary<ConversationId>,
    tenantId: fc.constant('acme') as fc.Arbitrary<TenantId>,
    channel,
    externalChatId: fc.constantFrom('4242', null),
    title: fc.constantFrom('Support', null, ''),
    tenant: tenantFacts,
    at,
  });
  const plausibleStart: ConversationCommand = {
    type: 'StartConversation',
    conversationId: 'c1' as ConversationId,
    tenantId: 'acme' as TenantId,
    channel: 'telegram',
    externalChatId: '4242',
    title: null,
    tenant: { status: 'active', tier: 'free' },
    at: T0,
  };
  const command: fc.Arbitrary<ConversationCommand> = fc.oneof(
    start,
    weighted(
      8,
      fc.record({
        type: fc.constant('PostMessage'),
        messageId,
        role: fc.constantFrom('user', 'agent', 'system'),
        channel,
        text: text('hello', ' '),
        tenant: tenantFacts,
        messagesToday: fc.integer({ min: -1, max: 6000 }),
        at,
      }),
    ),
    weighted(
      3,
      fc.record({
        type: fc.constant('RecordMessageDelivered'),
        messageId,
        channel,
        externalMessageIds: fc.constantFrom(['x1'], [''], ['x1', 'x2']),
        unconfirmedParts: fc.constantFrom(0, 1),
        at,
      }),
    ),
    weighted(
      3,
      fc.record({
        type: fc.constant('RecordMessageDeliveryFailed'),
        messageId,
        channel,
        reason: text('blocked'),
        retryable: fc.boolean(),
        at,
      }),
    ),
    weighted(2, fc.record({ type: fc.constant('CloseConversation'), reason: text('done'), tenant: tenantFacts, at })),
    // A well-formed user message of an active free tenant at or past its quota: without it, the
    // quota rule was reached in only about 95 % of 200-run batches (the fixed ids repeat, and a
    // repeat is answered before the quota is checked).
    weighted(
      1,
      fc.record({
        type: fc.constant('PostMessage'),
        messageId: fc.uuid(),
        role: fc.constant('user'),
        channel: fc.constant('api'),
        text: fc.constant('over the limit?'),
        tenant: fc.constant<TenantFacts>({ status: 'active', tier: 'free' }),
        messagesToday: fc.integer({ min: TIER_LIMITS.free.messagesPerDay - 1, max: TIER_LIMITS.free.messagesPerDay + 5 }),
        at,
      }),
    ),
  );

  it('keeps its invariants under random command sequences', () => {
    const refused = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(start, fc.constant(plausibleStart)), fc.array(command, { maxLength: 60 }), (first, rest) => {
        let posted = 0;
        let userPosted = 0;
        const check = ({ before, command, events, after }: Step<ConversationCommand, ConversationEvent, ConversationState>) => {
          const messages = events.filter((event) => event.type === 'MessagePosted');
          posted += messages.length;
          userPosted += messages.filter((event) => event.data.role === 'user').length;
          if (before.status === 'closed') expect(messages).toEqual([]);
          if (command.type === 'PostMessage' && messages.length > 0) {
            expect(command.tenant.status).toBe('active');
            if (command.role === 'user')
              expect(command.messagesToday).toBeLessThan(TIER_LIMITS[command.tenant.tier].messagesPerDay);
          }
          if (after.status === 'none') return;
          expect(after.messageCount).toBe(posted);
          expect(after.userMessageCount).toBe(userPosted);
          expect(windowSize(after.recentMessageIds)).toBeLessThanOrEqual(Math.min(posted, 2 * RECENT_MESSAGE_IDS));
          const pending = after.pendingDeliveries.map((p) => p.messageId);
          expect(new Set(pending).size).toBe(pending.length);
        };
        run(conversationDecider, [first, ...rest], check).forEach((code) => refused.add(code));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(refused).toContain('conversation_closed');
    expect(refused).toContain('message_quota_exceeded');
  });
});

describe('knight properties', () => {
  const taskId = fc.constantFrom('t1', 't2', 't3');
  const deploy: fc.Arbitrary<KnightCommand> = fc.record({
    type: fc.constant('DeployKnight'),
    knightId: fc.constantFrom('k1', 'bad id') as fc.Arbitrary<KnightId>,
    tenantId: fc.constant('acme') as fc.Arbitrary<TenantId>,
    task: text('Build website', ''),
    spec: fc.record({ cpu: fc.constantFrom(1, 2, 3, 16), ramGb: fc.constantFrom(4, 64, 5) }) as fc.Arbitrary<KnightSpec>,
    tenant: tenantFacts,
    activeKnights: fc.integer({ min: 0, max: 6 }),
    at,
  });
  const command: fc.Arbitrary<KnightCommand> = fc.oneof(
    deploy,
    weighted(3, fc.record({ type: fc.constant('StartKnightProvisioning'), vmName: fc.constantFrom('vm-a', 'vm-b'), at })),
    weighted(
      3,
      fc.record({
        type: fc.constant('MarkKnightProvisioned'),
        vmId: fc.constantFrom('vm1', 'vm2'),
        url: fc.constantFrom('https://vm1.test', null, 'ftp://x'),
        at,
      }),
    ),
    weighted(
      4,
      fc.record({ type: fc.constant('StartKnightTask'), taskId, description: text('Scaffold'), tenant: tenantFacts, at }),
    ),
    weighted(
      4,
      fc.record({
        type: fc.constant('ReportKnightProgress'),
        taskId,
        percent: fc.integer({ min: -5, max: 105 }),
        note: text('ok'),
        at,
      }),
    ),
    weighted(3, fc.record({ type: fc.constant('CompleteKnightTask'), taskId, result: text('done'), screenshotUrl: fc.constantFrom(null, 'https://shot.test/1.png'), at })),
    fc.record({ type: fc.constant('FailKnight'), stage: fc.constantFrom('provisioning' as const, 'task' as const), reason: text('crash'), at }),
    fc.record({ type: fc.constant('RequestKnightTermination'), reason: text('done'), at }),
    fc.record({ type: fc.constant('MarkKnightTerminated'), at }),
  );
  const active: TenantFacts = { status: 'active', tier: 'pro' };
  const happyPath: readonly KnightCommand[] = [
    {
      type: 'DeployKnight',
      knightId: 'k1' as KnightId,
      tenantId: 'acme' as TenantId,
      task: 'Build website',
      spec: { cpu: 2, ramGb: 8 },
      tenant: active,
      activeKnights: 0,
      at: T0,
    },
    { type: 'StartKnightProvisioning', vmName: 'vm-a', at: T0 },
    { type: 'MarkKnightProvisioned', vmId: 'vm1', url: null, at: T0 },
    { type: 'StartKnightTask', taskId: 't1', description: 'Scaffold', tenant: active, at: T0 },
    { type: 'ReportKnightProgress', taskId: 't1', percent: 50, note: 'half', at: T0 },
    { type: 'CompleteKnightTask', taskId: 't1', result: 'done', screenshotUrl: null, at: T0 },
    { type: 'RequestKnightTermination', reason: 'done', at: T0 },
  ];
  /** Either a random deployment or a valid walk some way along the lifecycle. */
  const start = fc.oneof(
    deploy.map((c) => [c]),
    fc.integer({ min: 1, max: happyPath.length }).map((n) => happyPath.slice(0, n)),
  );

  it('keeps its invariants under random command sequences', () => {
    const reached = new Set<string>();
    const check = ({ before, events, after }: Step<KnightCommand, KnightEvent, KnightState>) => {
      reached.add(after.status);
      if (before.status === 'terminated') expect(events).toEqual([]);
      if (after.status === 'working') expect(after.vmId).not.toBeNull();
      for (const event of events) {
        if (event.type === 'KnightTaskStarted') expect(before.status).toBe('provisioned');
        if (event.type === 'KnightTaskProgressed' && before.status === 'working')
          expect(event.data.percent).toBeGreaterThanOrEqual(before.currentTask.percent);
      }
    };
    fc.assert(
      fc.property(start, fc.array(command, { maxLength: 50 }), (prefix, rest) => {
        run(knightDecider, [...prefix, ...rest], check);
      }),
      { numRuns: NUM_RUNS },
    );
    const lifecycle = ['requested', 'provisioning', 'provisioned', 'working', 'failed', 'terminating', 'terminated'];
    expect([...reached].sort()).toEqual(lifecycle.sort());
  });
});
