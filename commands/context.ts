import { z } from 'zod';
import { tenantDecider, tenantFacts } from '../domain/index.ts';
import type { KnightId, TenantFacts, TenantId } from '../domain/index.ts';
import type { Pseudonymize } from '../domain/ports/keys.ts';
import { tenantStream } from '../domain/shared/streams.ts';
import type { CommandEnvelope, CommandResult, CommandShell, IdempotencyKey } from './shell/handle-command.ts';

/** Usage facts the deciders need, looked up from read models by whoever wires the commands. */
export interface UsageLookup {
  /** User messages the tenant posted on this UTC day (YYYY-MM-DD). */
  messagesToday(tenantId: TenantId, day: string): Promise<number>;
  /** Knights of the tenant that are not yet terminated. */
  activeKnights(tenantId: TenantId): Promise<number>;
  /**
   * Today's count for one user message about to be decided, counting the messages still in flight
   * in this process, so that concurrent posts cannot all pass at the limit. `settle` after the
   * command: with the accepted message's position, or with undefined when nothing was appended.
   */
  reserveMessage?(tenantId: TenantId, day: string): Promise<MessageSlot>;
  /**
   * The tenant's knights at work plus the places held for other knights being deployed, and a place
   * held for this one, shared by every process that deploys knights: the knights-at-once limit holds
   * however many API processes deploys arrive through. `settle` after the command, as for messages.
   */
  reserveKnight?(tenantId: TenantId, knightId: KnightId): Promise<KnightSlot>;
}

export interface MessageSlot {
  readonly count: number;
  settle(position: bigint | undefined): void;
}

/** A knight's place: settled by a database write, so it is awaited (and never fails: a place not given back expires). */
export interface KnightSlot {
  readonly count: number;
  settle(position: bigint | undefined): Promise<void>;
}

/** A slot from `reserveMessage`, or a plain count where the lookup keeps no reservations. */
export const reserveMessage = async (usage: UsageLookup, tenantId: TenantId, day: string): Promise<MessageSlot> =>
  usage.reserveMessage ? usage.reserveMessage(tenantId, day) : { count: await usage.messagesToday(tenantId, day), settle: () => undefined };

/** A slot from `reserveKnight`, or a plain count where the lookup keeps no reservations. */
export const reserveKnight = async (usage: UsageLookup, tenantId: TenantId, knightId: KnightId): Promise<KnightSlot> =>
  usage.reserveKnight ? usage.reserveKnight(tenantId, knightId) : { count: await usage.activeKnights(tenantId), settle: async () => undefined };

export interface CommandPorts {
  readonly shell: CommandShell;
  readonly clock: () => Date;
  readonly newId: () => string;
  readonly usage: UsageLookup;
  /**
   * Deletes a tenant's data key (crypto-shredding: its sealed fields become unreadable everywhere).
   * Absent where the process holds no key service; then erasure records the event only.
   */
  readonly eraseDataKey?: (tenantId: TenantId) => Promise<void>;
  /**
   * The tenant's pseudonyms, keyed by its data key: what stands for a bot user's chat id, user id and
   * a platform's message ids in stream ids, actors, idempotency keys and events (see docs/channels.md).
   * Absent where the process holds no key service; then a bot message is refused (encryption_unavailable).
   */
  readonly pseudonyms?: (tenantId: TenantId) => Promise<Pseudonymize>;
  /**
   * The tenant that owns an API key id, from the read models (authentication finds a key by its id
   * alone, so an id is unique across tenants). Absent in tests without read models.
   */
  readonly apiKeyOwner?: (keyId: string) => Promise<string | undefined>;
}

/** Who is asking, resolved from the credential — never from the request body. */
export interface Caller {
  readonly tenantId: TenantId;
  readonly actor: string;
  readonly correlationId: string;
  readonly causationId?: string | null;
  readonly traceparent?: string;
  readonly idempotency?: IdempotencyKey;
}

export const envelope = <C>(caller: Caller, streamId: string, command: C): CommandEnvelope<C> => ({
  streamId,
  command,
  metadata: {
    tenantId: caller.tenantId,
    actor: caller.actor,
    correlationId: caller.correlationId,
    causationId: caller.causationId ?? null,
    ...(caller.traceparent ? { traceparent: caller.traceparent } : {}),
  },
  ...(caller.idempotency ? { idempotency: caller.idempotency } : {}),
});

/**
 * The tenant's status and tier for another aggregate's decision. Read at most 1 s stale: a
 * suspension made in another process takes effect here within a second (at once in its own).
 */
export const TENANT_FACTS_MAX_AGE_MS = 1_000;
export const tenantFactsOf = async (ports: CommandPorts, tenantId: TenantId): Promise<TenantFacts> =>
  tenantFacts((await ports.shell.state(tenantDecider, tenantStream(tenantId), TENANT_FACTS_MAX_AGE_MS)).state);

/** A domain command before the clock stamps it. */
export type WithoutAt<C> = C extends unknown ? Omit<C, 'at'> : never;

/** What every command answers: where the write landed, for read-your-writes. */
export interface Accepted {
  readonly streamId: string;
  readonly revision: number;
  readonly position: string | null;
  readonly duplicate: boolean;
}

export const accepted = (result: CommandResult<unknown>): Accepted => ({
  streamId: result.streamId,
  revision: result.nextRevision,
  position: result.position === undefined ? null : result.position.toString(),
  duplicate: result.duplicate,
});

/** Free text from clients: bounded, no control characters except newline and tab. */
export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), 'must not contain control characters')
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');
