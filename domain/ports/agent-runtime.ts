import type { Channel } from '../conversation/events.ts';
import type { TenantId } from '../shared/ids.ts';

/** One user message for the tenant's agent to answer. */
export interface AgentRequest {
  readonly tenantId: TenantId;
  readonly conversationId: string;
  /** The user message's id: the reply names it as `inReplyTo`. */
  readonly messageId: string;
  /** The user message's event id: actions the agent takes for it derive their ids from it, so a repeat acts once. */
  readonly eventId: string;
  readonly channel: Channel;
  readonly text: string;
}

export interface AgentReplyOptions {
  /** Aborted when the dispatcher stops waiting (its timeout, or shutdown). */
  readonly signal: AbortSignal;
  /** The reply so far, each time it grows (the whole text so far, not the delta). */
  onPartial(textSoFar: string): void;
  /** The runtime cannot answer yet (no bridge connected) and waits, bounded; said at most once per request. */
  onDelayed(reason: string): void;
}

/**
 * The AgentRuntime port: whatever answers a tenant's user messages (the built-in local agent, the
 * tenant's OpenClaw gateway, or that gateway through the bridge on the tenant's VM). It resolves
 * with the final text, or rejects (failure, timeout, abort): the dispatcher then posts a fallback.
 */
export interface AgentRuntime {
  /** Said in logs and failure records: `local`, `gateway`, `bridge`. */
  readonly kind: string;
  reply(request: AgentRequest, options: AgentReplyOptions): Promise<string>;
}

/**
 * A reply's text while it streams, for dashboards. It matches the live feed's frame
 * `{ kind: 'agent.partial', conversationId, inReplyTo, text, seq }` (published per tenant);
 * `text` is the whole reply so far and `seq` counts up from 1 within one reply, so a dashboard
 * keeps the highest seq it saw. Ephemeral: nothing is stored, the final text is one MessagePosted.
 */
export interface AgentPartial {
  readonly tenantId: TenantId;
  readonly conversationId: string;
  readonly inReplyTo: string;
  readonly text: string;
  readonly seq: number;
}

export interface AgentPartials {
  onPartial(partial: AgentPartial): void;
}
