import type { Logger } from 'pino';
import { v5 as uuidv5 } from 'uuid';
import { envelope, tenantFactsOf } from '../../commands/context.ts';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { conversationDecider, MAX_MESSAGE_TEXT, windowHas } from '../../domain/index.ts';
import type { Decoded } from '../../domain/events.ts';
import type { MessagePosted } from '../../domain/conversation/events.ts';
import type { AgentPartials, AgentRuntime } from '../../domain/ports/agent-runtime.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { conversationStream, parseStreamId } from '../../domain/shared/streams.ts';
import { asConversationId } from '../../domain/shared/ids.ts';
import { consumeDecoded } from '../bus/decoded.ts';
import { runLimited } from '../limits/run-limited.ts';
import { truncateReply } from './truncate.ts';

export const AGENT_ACTOR = 'agent';
export const AGENTS_CONSUMER = 'agents';
export const FALLBACK_REPLY =
  "Sorry — I couldn't answer that just now. Your message was received; please try again in a moment.";

const REPLY_NAMESPACE = '0b7f4a8e-2c5d-5e1f-9a3b-7d6c4e2f1a90';
/** The reply's message id, derived from the user message's event id: a redelivery posts the same id, which the conversation refuses to repeat. */
export const replyIdOf = (userEventId: string): string => `reply-${uuidv5(userEventId, REPLY_NAMESPACE)}`;

export interface DispatcherDeps {
  readonly bus: Bus;
  readonly codec: EventCodec;
  readonly ports: CommandPorts;
  /** The runtime that answers this tenant (local agent, its gateway, or its bridge). */
  runtimeFor(tenantId: string): Promise<AgentRuntime>;
  readonly partials: AgentPartials;
  readonly log: Logger;
  /** How long one reply may take before the fallback is posted instead. */
  readonly timeoutMs: number;
  /** Replies longer than this are cut, with a marker saying so (at most MAX_MESSAGE_TEXT). */
  readonly maxReplyChars?: number;
  /** Conversations answered at once (messages of one conversation are answered in order). */
  readonly concurrency?: number;
  readonly consumer?: string;
}

type UserMessage = Decoded<MessagePosted>;
const RETRIED = new Set(['internal', 'unavailable']);
/** Batches of user messages answered at once (in-process bus; Kafka has its partitions). */
const BATCHES_AT_ONCE = 16;
/** How long the shell's cached state of a conversation is trusted to say whether a message was answered. */
const ANSWERED_CACHE_MS = 10_000;

/**
 * Agent dispatch: a Bus consumer that answers every user message once. The reply is posted as the
 * agent's message with the user message's event id as idempotency key and a message id derived
 * from it, so a redelivery (a crash after the post, a rebalance) finds the reply already there
 * and neither asks the runtime again nor answers twice. A runtime that fails or times out gets one
 * fallback reply and an AgentReplyFailed record, appended together; a suspended or erased tenant's
 * messages get no agent call.
 */
export const startAgentDispatcher = async (deps: DispatcherDeps): Promise<BusSubscription> => {
  const { ports, log } = deps;
  // On stop, replies in flight are abandoned without a fallback: their messages are delivered again.
  const stopping = new AbortController();
  /** The replies under way, aborted on stop (one listener each on `stopping` would be thousands). */
  const inFlight = new Set<AbortController>();
  const maxChars = Math.min(deps.maxReplyChars ?? MAX_MESSAGE_TEXT, MAX_MESSAGE_TEXT);

  /**
   * Has this message's reply been posted? From the shell's cache when it already holds the message and
   * was checked lately: a reply posted by this process is in it. One posted by another process meanwhile
   * (two dispatchers on one message, a rebalance) may be missed; then the runtime is asked again, but the
   * reply's idempotency key still posts it only once.
   */
  const answered = async (streamId: string, replyId: string, revision: number): Promise<boolean> => {
    const cached = await ports.shell.state(conversationDecider, streamId, ANSWERED_CACHE_MS);
    const { state } = cached.revision < revision ? await ports.shell.state(conversationDecider, streamId, 0) : cached;
    return state.status !== 'none' && windowHas(state.recentMessageIds, replyId);
  };

  /** Domain refusals (conversation closed, tenant suspended meanwhile) end the attempt; anything else is retried by the bus. */
  const settle = async (what: string, work: () => Promise<unknown>, context: object) => {
    try {
      await work();
    } catch (error) {
      if (!isAppError(error) || RETRIED.has(error.kind) || error.code === 'concurrency_conflict') throw error;
      log.warn({ ...context, code: error.code }, `agent ${what} refused; not answering this message`);
    }
  };

  const answer = async (event: UserMessage) => {
    const { tenantId, entityId } = parseStreamId(event.streamId);
    const conversationId = asConversationId(entityId!);
    const streamId = conversationStream(tenantId, conversationId);
    const replyId = replyIdOf(event.id);
    const context = { tenantId, conversationId, messageId: event.data.messageId };
    if (await answered(streamId, replyId, event.revision)) return;
    const tenant = await tenantFactsOf(ports, tenantId);
    if (tenant.status !== 'active') {
      log.info({ ...context, status: tenant.status }, 'tenant not active: no agent call');
      return;
    }
    const caller = (purpose: string): Caller => ({
      tenantId,
      actor: AGENT_ACTOR,
      correlationId: event.metadata.correlationId,
      causationId: event.id,
      idempotency: { key: `${purpose}|${event.id}`, fingerprint: purpose },
    });
    const inReplyTo = event.data.messageId;
    const runtime = await deps.runtimeFor(tenantId);
    // one signal for both ends of a reply, the timeout and the stop (AbortSignal.any costs a signal more per message)
    const controller = new AbortController();
    const signal = controller.signal;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no reply within ${deps.timeoutMs} ms`));
    }, deps.timeoutMs);
    if (stopping.signal.aborted) controller.abort(stopping.signal.reason);
    else inFlight.add(controller);
    let seq = 0;
    let delayed = false;
    let text: string;
    try {
      text = await runtime.reply(
        { tenantId, conversationId, messageId: inReplyTo, eventId: event.id, channel: event.data.channel, text: event.data.text },
        {
          signal,
          onPartial: (soFar) => deps.partials.onPartial({ tenantId, conversationId, inReplyTo, text: soFar.length > maxChars ? truncateReply(soFar, maxChars) : soFar, seq: ++seq }),
          onDelayed: (reason) => {
            if (delayed) return;
            delayed = true;
            void ports.shell
              .handle(conversationDecider, envelope(caller('agent-delayed'), streamId, { type: 'RecordAgentReplyDelayed', inReplyTo, reason, at: ports.clock().toISOString() }))
              .catch((error: unknown) => log.warn({ ...context, err: error }, 'could not record the delayed reply'));
          },
        },
      );
    } catch (error) {
      if (stopping.signal.aborted) throw new Error('agent dispatch stopping; the message will be delivered again');
      const reason = timedOut ? `${runtime.kind} agent timed out after ${deps.timeoutMs} ms` : `${runtime.kind} agent failed: ${reasonOf(error)}`;
      // the reason may quote the agent (sealed in the event, as personal data): the log names only its kind
      log.warn({ ...context, runtime: runtime.kind, failure: timedOut ? 'timeout' : failureKindOf(error) }, 'agent reply failed; posting the fallback');
      await settle('fallback', () =>
        ports.shell.handle(
          conversationDecider,
          envelope(caller('agent-reply'), streamId, {
            type: 'RecordAgentReplyFailed',
            inReplyTo,
            reason,
            fallback: { messageId: replyId, channel: event.data.channel, text: FALLBACK_REPLY },
            at: ports.clock().toISOString(),
          }),
        ), context);
      return;
    } finally {
      clearTimeout(timer);
      inFlight.delete(controller);
    }
    const reply = truncateReply(text, maxChars);
    await settle('reply', () =>
      postMessage(ports, caller('agent-reply'), conversationId, { text: reply }, {
        role: 'agent',
        channel: event.data.channel,
        messageId: replyId,
        inReplyTo,
      }), context);
  };

  const subscription = await consumeDecoded(
    deps.bus,
    deps.codec,
    deps.consumer ?? AGENTS_CONSUMER,
    // conversations are independent: a slow reply holds back only its own conversation's next messages
    { categories: ['conversation'], eventTypes: ['MessagePosted'], decode: 'open', batchesAtOnce: BATCHES_AT_ONCE },
    async (events) => {
      const byConversation = new Map<string, UserMessage[]>();
      for (const event of events) {
        if (event.type !== 'MessagePosted' || event.data.role !== 'user') continue;
        const list = byConversation.get(event.streamId) ?? [];
        list.push(event);
        byConversation.set(event.streamId, list);
      }
      await runLimited([...byConversation.values()], deps.concurrency ?? 32, async (messages) => {
        for (const message of messages) await answer(message);
      });
    },
  );
  return {
    done: subscription.done,
    async close() {
      stopping.abort();
      for (const controller of inFlight) controller.abort(stopping.signal.reason);
      await subscription.close();
    },
  };
};

/** A failure's reason for the record: its message, bounded, never a stack. */
const failureKindOf = (error: unknown): string => (isAppError(error) ? error.code : error instanceof Error ? error.name : typeof error);
const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 300);
