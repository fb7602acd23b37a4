import type { Logger } from 'pino';
import { v5 as uuidv5 } from 'uuid';
import type { CommandPorts } from '../../commands/context.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { conversationDecider } from '../../domain/index.ts';
import type { AnyEvent, Decoded } from '../../domain/events.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { asConversationId } from '../../domain/shared/ids.ts';
import { conversationStream, parseStreamId } from '../../domain/shared/streams.ts';
import { consumeDecoded } from '../bus/decoded.ts';
import { parseChatOrigin } from './knight-origin.ts';

const REPORT_NAMESPACE = '9c2e6f1b-4a7d-5c3e-8b9f-0d1a2e3f4b5c';
const ORIGINS_KEPT = 10_000;

/** What the chat is told about a knight event; undefined for events not worth a message. */
export const reportOf = (knightId: string, event: AnyEvent): string | undefined => {
  switch (event.type) {
    case 'KnightProvisioned':
      return `Knight ${knightId} is up: its computer is running.`;
    case 'KnightTaskStarted':
      return `Knight ${knightId} started working on "${event.data.description}".`;
    case 'KnightTaskProgressed':
      return `Knight ${knightId} is at ${event.data.percent}%${event.data.note ? `: ${event.data.note}` : ''}.`;
    case 'KnightTaskCompleted':
      return `Knight ${knightId} finished: ${event.data.result}${event.data.screenshotUrl ? `\nScreenshot: ${event.data.screenshotUrl}` : ''}`;
    case 'KnightFailed':
      return `Knight ${knightId} failed while ${event.data.stage === 'task' ? 'working' : event.data.stage}: ${event.data.reason}`;
    case 'KnightTerminated':
      return `Knight ${knightId} was terminated.`;
    default:
      return undefined;
  }
};

/**
 * Reports the progress of knights deployed from a chat back into that chat, as the agent's
 * messages answering the message that asked. Each report's message id derives from the knight
 * event's id, so a redelivered event reports nothing twice. Knights deployed over the API (no
 * chat origin) are not reported.
 */
export const startKnightReports = async (deps: {
  bus: Bus;
  codec: EventCodec;
  store: EventStore;
  ports: CommandPorts;
  log: Logger;
  consumer?: string;
}): Promise<BusSubscription> => {
  const { ports, log } = deps;
  const origins = new Map<string, ReturnType<typeof parseChatOrigin>>();
  const originOf = async (streamId: string) => {
    if (origins.has(streamId)) return origins.get(streamId);
    const [first] = await deps.store.readStream(streamId, { fromRevision: 0, maxCount: 1 });
    // only the agent deploys from a chat: a correlation id of that shape under any other actor (a client's
    // request id) names no chat (the API also replaces such a request id: request-context.ts)
    const origin = first?.metadata.actor === 'agent' ? parseChatOrigin(first.metadata.correlationId) : undefined;
    origins.set(streamId, origin);
    if (origins.size > ORIGINS_KEPT) origins.delete(origins.keys().next().value!);
    return origin;
  };

  const report = async (event: Decoded) => {
    const { tenantId, entityId: knightId } = parseStreamId(event.streamId);
    const text = knightId === undefined ? undefined : reportOf(knightId, event);
    if (!text) return;
    const origin = await originOf(event.streamId);
    if (!origin) return;
    const conversationId = asConversationId(origin.conversationId);
    const { state } = await ports.shell.state(conversationDecider, conversationStream(tenantId, conversationId), 1_000);
    if (state.status !== 'open') return;
    try {
      await postMessage(
        ports,
        { tenantId, actor: 'agent', correlationId: event.metadata.correlationId, causationId: event.id, idempotency: { key: `knight-report|${event.id}`, fingerprint: 'knight-report' } },
        conversationId,
        { text: text.slice(0, 4000) },
        { role: 'agent', channel: state.channel, messageId: `knight-${uuidv5(event.id, REPORT_NAMESPACE)}`, inReplyTo: origin.messageId },
      );
    } catch (error) {
      if (!isAppError(error) || error.kind === 'internal' || error.kind === 'unavailable') throw error;
      log.info({ tenantId, knightId, code: error.code }, 'knight report not posted');
    }
  };

  return consumeDecoded(
    deps.bus,
    deps.codec,
    deps.consumer ?? 'agents-knight-reports',
    { categories: ['knight'], decode: 'open' },
    async (events) => {
      for (const event of events) await report(event);
    },
  );
};
