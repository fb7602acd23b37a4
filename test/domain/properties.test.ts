import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conversationDecider, RECENT_MESSAGE_IDS } from '../../domain/conversation/index.ts';
import type { ConversationCommand, ConversationEvent, ConversationState } from '../../domain/conversation/index.ts';
import { knightDecider } from '../../domain/knight/index.ts';
import type { KnightCommand, KnightEvent, KnightState } from '../../domain/knight/index.ts';
import { fold } from '../../domain/shared/decider.ts';
import type { Decider } from '../../domain/shared/decider.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { ConversationId, KnightId, TenantId } from '../../domain/shared/ids.ts';
import { MAX_ACTIVE_API_KEYS, tenantDecider } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantEvent, TenantFacts, TenantState } from '../../domain/tenant/index.ts';
import { TIER_LIMITS } from '../../domain/tiers.ts';

const NUM_RUNS = 200;
const at = fc.constantFrom('2025-03-01T10:00:00.000Z', '2025-03-02T11:30:00.000Z');
const text = (...plausible: string[]) => fc.oneof(fc.constantFrom(...plausible), fc.string({ maxLength: 20 }));
const tier = fc.constantFrom('free', 'pro', 'enterprise', 'gold' as 'free');
const tenantFacts: fc.Arbitrary<TenantFacts> = fc.record({
  status: fc.constantFrom('active', 'active', 'active', 'suspended', 'erased', 'none'),
  tier,
});

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
  return { state, log, refusals };
};

describe('tenant properties', () => {
  const keyId = fc.constantFrom(...Array.from({ length: 24 }, (_, i) => `k${i}`), '__proto__', 'bad id');
  const create: fc.Arbitrary<TenantCommand> = fc.record({
    type: fc.constant('CreateTenant'),
    tenantId: fc.constantFrom('acme', 'Not A Slug') as fc.Arbitrary<TenantId>,
    name: text('Acme Inc', '  '),
    tier,
    at,
  });
  const command: fc.Arbitrary<TenantCommand> = fc.oneof(
    create,
    { arbitrary: fc.record({ type: fc.constant('IssueApiKey'), keyId, scope: fc.constantFrom('tenant', 'auditor'), label: text('ci'), hash: fc.constantFrom('sha256:0123456789abcdef01', 'x'), at }), weight: 8 },
    { arbitrary: fc.record({ type: fc.constant('RevokeApiKey'), keyId, at }), weight: 2 },
    fc.record({ type: fc.constant('ChangeTenantTier'), tier, at }),
    fc.record({ type: fc.constant('ConnectTelegramBot'), botUsername: fc.constantFrom('acme_bot', 'x'), botId: fc.constantFrom(1, 2, -1), tokenCiphertext: fc.constantFrom('v1.AAAA', '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'), webhookSecretHash: fc.constant('sha256:0123456789abcdef01'), at }),
    fc.record({ type: fc.constant('DisconnectTelegramBot'), at }),
    fc.record({ type: fc.constant('ConnectWhatsAppNumber'), phoneNumberId: fc.constantFrom('1065', '2', 'abc'), displayPhoneNumber: fc.constant('+1 555 0100'), accessTokenCiphertext: fc.constant('v1.BBBB'), appSecretCiphertext: fc.constant('v1.CCCC'), verifyTokenHash: fc.constant('sha256:0123456789abcdef01'), at }),
    fc.record({ type: fc.constant('DisconnectWhatsAppNumber'), at }),
    fc.record({ type: fc.constant('RequestAgentVm'), requestId: fc.constantFrom('r1', 'r2'), at }),
    fc.record({ type: fc.constant('MarkAgentVmReady'), requestId: fc.constantFrom('r1', 'r2'), vmId: fc.constantFrom('vm1', 'vm2'), at }),
    fc.record({ type: fc.constant('SuspendTenant'), reason: text('unpaid'), at }),
    fc.record({ type: fc.constant('ReinstateTenant'), at }),
    { arbitrary: fc.record({ type: fc.constant('EraseTenant'), at }), weight: 1 },
  );
  /** A valid creation followed by up to 22 distinct valid keys, so the key limit is within reach. */
  const plausibleStart: fc.Arbitrary<TenantCommand[]> = fc.integer({ min: 0, max: 22 }).map((keys) => [
    { type: 'CreateTenant', tenantId: 'acme' as TenantId, name: 'Acme Inc', tier: 'free', at: '2025-03-01T10:00:00.000Z' },
    ...Array.from({ length: keys }, (_, i): TenantCommand => ({
      type: 'IssueApiKey',
      keyId: `k${i}`,
      scope: 'tenant',
      label: 'ci',
      hash: 'sha256:0123456789abcdef01',
      at: '2025-03-01T10:00:00.000Z',
    })),
  ]);
  const exemptWhileSuspended = new Set(['ReinstateTenant', 'EraseTenant', 'MarkAgentVmReady']);

  it('keeps its invariants under random command sequences', () => {
    const refused = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(create.map((c) => [c]), plausibleStart), fc.array(command, { maxLength: 80 }), (start, rest) => {
        const { refusals } = run<TenantCommand, TenantEvent, TenantState>(tenantDecider, [...start, ...rest], ({ before, command, events, after }) => {
          if (before.status === 'suspended' && !exemptWhileSuspended.has(command.type)) expect(events).toEqual([]);
          if (before.status === 'erased') expect(after.status).toBe('erased');
          if (after.status === 'active' || after.status === 'suspended') {
            const active = Object.values(after.apiKeys).filter((key) => key.status === 'active').length;
            expect(after.activeApiKeys).toBe(active);
            expect(active).toBeLessThanOrEqual(MAX_ACTIVE_API_KEYS);
          }
          for (const event of events) expect(JSON.stringify(event)).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
        });
        refusals.forEach((code) => refused.add(code));
      }),
      { numRuns: NUM_RUNS },
    );
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
  const command: fc.Arbitrary<ConversationCommand> = fc.oneof(
    start,
    { arbitrary: fc.record({ type: fc.constant('PostMessage'), messageId, role: fc.constantFrom('user', 'agent', 'system'), channel, text: text('hello', ' '), tenant: tenantFacts, messagesToday: fc.integer({ min: -1, max: 6000 }), at }), weight: 8 },
    { arbitrary: fc.record({ type: fc.constant('RecordMessageDelivered'), messageId, channel, externalMessageId: fc.constantFrom('x1', ''), at }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('RecordMessageDeliveryFailed'), messageId, channel, reason: text('blocked'), retryable: fc.boolean(), at }), weight: 3 },
    fc.record({ type: fc.constant('CloseConversation'), reason: text('done'), tenant: tenantFacts, at }),
  );

  const plausibleStart: ConversationCommand = {
    type: 'StartConversation',
    conversationId: 'c1' as ConversationId,
    tenantId: 'acme' as TenantId,
    channel: 'telegram',
    externalChatId: '4242',
    title: null,
    tenant: { status: 'active', tier: 'free' },
    at: '2025-03-01T10:00:00.000Z',
  };

  it('keeps its invariants under random command sequences', () => {
    fc.assert(
      fc.property(fc.oneof(start, fc.constant(plausibleStart)), fc.array(command, { maxLength: 60 }), (first, rest) => {
        let posted = 0;
        let userPosted = 0;
        run<ConversationCommand, ConversationEvent, ConversationState>(conversationDecider, [first, ...rest], ({ before, command, events, after }) => {
          const messages = events.filter((event) => event.type === 'MessagePosted');
          posted += messages.length;
          userPosted += messages.filter((event) => event.data.role === 'user').length;
          if (before.status === 'closed') expect(messages).toEqual([]);
          if (command.type === 'PostMessage' && messages.length > 0) {
            expect(command.tenant.status).toBe('active');
            if (command.role === 'user') expect(command.messagesToday).toBeLessThan(TIER_LIMITS[command.tenant.tier].messagesPerDay);
          }
          if (after.status === 'none') return;
          expect(after.messageCount).toBe(posted);
          expect(after.userMessageCount).toBe(userPosted);
          expect(after.recentMessageIds.length).toBeLessThanOrEqual(RECENT_MESSAGE_IDS);
          expect(new Set(after.pendingDeliveries.map((p) => p.messageId)).size).toBe(after.pendingDeliveries.length);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('knight properties', () => {
  const taskId = fc.constantFrom('t1', 't2', 't3');
  const deploy: fc.Arbitrary<KnightCommand> = fc.record({
    type: fc.constant('DeployKnight'),
    knightId: fc.constantFrom('k1', 'bad id') as fc.Arbitrary<KnightId>,
    tenantId: fc.constant('acme') as fc.Arbitrary<TenantId>,
    task: text('Build website', ''),
    spec: fc.record({ cpu: fc.constantFrom(1, 2, 3, 16), ramGb: fc.constantFrom(4, 64, 5) }) as fc.Arbitrary<never>,
    tenant: tenantFacts,
    activeKnights: fc.integer({ min: 0, max: 6 }),
    at,
  });
  const command: fc.Arbitrary<KnightCommand> = fc.oneof(
    deploy,
    { arbitrary: fc.record({ type: fc.constant('StartKnightProvisioning'), vmName: fc.constantFrom('vm-a', 'vm-b'), at }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('MarkKnightProvisioned'), vmId: fc.constantFrom('vm1', 'vm2'), url: fc.constantFrom('https://vm1.test', null, 'ftp://x'), at }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('StartKnightTask'), taskId, description: text('Scaffold'), tenant: tenantFacts, at }), weight: 4 },
    { arbitrary: fc.record({ type: fc.constant('ReportKnightProgress'), taskId, percent: fc.integer({ min: -5, max: 105 }), note: text('ok'), at }), weight: 4 },
    { arbitrary: fc.record({ type: fc.constant('CompleteKnightTask'), taskId, result: text('done'), at }), weight: 3 },
    fc.record({ type: fc.constant('FailKnight'), reason: text('crash'), at }),
    fc.record({ type: fc.constant('RequestKnightTermination'), reason: text('done'), at }),
    fc.record({ type: fc.constant('MarkKnightTerminated'), at }),
  );

  const at0 = '2025-03-01T10:00:00.000Z';
  const active: TenantFacts = { status: 'active', tier: 'pro' };
  const happyPath: readonly KnightCommand[] = [
    { type: 'DeployKnight', knightId: 'k1' as KnightId, tenantId: 'acme' as TenantId, task: 'Build website', spec: { cpu: 2, ramGb: 8 }, tenant: active, activeKnights: 0, at: at0 },
    { type: 'StartKnightProvisioning', vmName: 'vm-a', at: at0 },
    { type: 'MarkKnightProvisioned', vmId: 'vm1', url: null, at: at0 },
    { type: 'StartKnightTask', taskId: 't1', description: 'Scaffold', tenant: active, at: at0 },
    { type: 'ReportKnightProgress', taskId: 't1', percent: 50, note: 'half', at: at0 },
    { type: 'CompleteKnightTask', taskId: 't1', result: 'done', at: at0 },
    { type: 'RequestKnightTermination', reason: 'done', at: at0 },
  ];
  /** Either a random deployment or a valid walk some way along the lifecycle. */
  const start = fc.oneof(deploy.map((c) => [c]), fc.integer({ min: 1, max: happyPath.length }).map((n) => happyPath.slice(0, n)));

  it('keeps its invariants under random command sequences', () => {
    const reached = new Set<string>();
    fc.assert(
      fc.property(start, fc.array(command, { maxLength: 50 }), (prefix, rest) => {
        run<KnightCommand, KnightEvent, KnightState>(knightDecider, [...prefix, ...rest], ({ before, events, after }) => {
          reached.add(after.status);
          if (before.status === 'terminated') expect(events).toEqual([]);
          if (after.status === 'working') expect(after.vmId).not.toBeNull();
          for (const event of events) {
            if (event.type === 'KnightTaskStarted') expect(before.status).toBe('provisioned');
            if (event.type === 'KnightTaskProgressed' && before.status === 'working')
              expect(event.data.percent).toBeGreaterThanOrEqual(before.currentTask.percent);
          }
        });
      }),
      { numRuns: NUM_RUNS },
    );
    expect([...reached].sort()).toEqual(
      ['failed', 'provisioned', 'provisioning', 'requested', 'terminated', 'terminating', 'working'].sort(),
    );
  });
});
