import type { Logger } from 'pino';
import { platformMessageRef, pseudonymsOf } from '../../commands/channels/inbound.ts';
import { recordDelivered, recordDeliveryFailed } from '../../commands/conversations/record-delivery.ts';
import type { CommandPorts } from '../../commands/context.ts';
import { conversationDecider, tenantDecider } from '../../domain/index.ts';
import type { Decoded } from '../../domain/events.ts';
import type { MessagePosted } from '../../domain/conversation/events.ts';
import type { Bus, BusSubscription } from '../../domain/ports/bus.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import { parseStreamId, tenantStream } from '../../domain/shared/streams.ts';
import { consumeDecoded } from '../bus/decoded.ts';
import type { TelegramBots } from '../telegram/bots.ts';
import type { WhatsAppSender } from '../whatsapp/sender.ts';
import { channelFailureOf } from './errors.ts';
import type { Outbox } from './outbox.ts';
import type { OpenedJournal } from './send-journal.ts';
import { splitText, MAX_MESSAGE_CHARS } from './split-text.ts';

export const BOTS_CONSUMER = 'bots';

export interface DeliveryDeps {
  readonly bus: Bus;
  readonly codec: EventCodec;
  readonly ports: CommandPorts;
  readonly outbox: Outbox;
  readonly telegram: TelegramBots;
  readonly whatsapp: WhatsAppSender;
  readonly log: Logger;
  /** Tells, after a restart, whether an interrupted send left (send-journal.ts); without one such a send counts as gone. */
  readonly journal?: Pick<OpenedJournal, 'id' | 'left' | 'around'> | undefined;
  /** The bus consumer name (one per deployment; tests give their own). */
  readonly consumer?: string;
}

type Posted = Decoded<MessagePosted>;

/** Sends one part on the message's channel, calling `announce` after the pacers and before the request; resolves to the pseudonym of the platform's id of it. */
type SendPart = (text: string, announce: () => Promise<void>) => Promise<string>;

/**
 * The `bots` consumer: every agent (or system) message in a Telegram or WhatsApp conversation goes back
 * to the bot user, split into parts of at most 4096 characters, each part announced in the outbox before
 * its request leaves (see docs/channels.md, "Exactly one send"). The outcome is recorded in the log:
 * MessageDelivered with the platform's ids, or MessageDeliveryFailed with the platform's reason. A
 * failure that may pass (rate limit, outage) fails the batch, so the bus tries it again later.
 */
export const startDelivery = async (deps: DeliveryDeps): Promise<BusSubscription> => {
  const { ports, outbox, log } = deps;

  const senderFor = async (event: Posted): Promise<{ send: SendPart } | { refused: string }> => {
    const { tenantId } = parseStreamId(event.streamId);
    const [{ state: tenant }, { state: conversation }] = await Promise.all([
      ports.shell.state(tenantDecider, tenantStream(tenantId), 1_000),
      ports.shell.state(conversationDecider, event.streamId),
    ]);
    if (conversation.status === 'none' || conversation.externalChatId === null) return { refused: 'conversation_without_chat' };
    const chatId = conversation.externalChatId;
    const live = tenant.status === 'active' || tenant.status === 'suspended' ? tenant : undefined;
    if (event.data.channel === 'telegram') {
      const bot = live?.telegram;
      if (!bot) return { refused: 'telegram_bot_not_connected' };
      const credentials = { tenantId, token: bot.token };
      const pseudonym = await pseudonymsOf(ports, tenantId);
      return {
        send: async (text, announce) =>
          platformMessageRef('telegram', pseudonym, (await deps.telegram.sendText(credentials, chatId, text, { beforePart: announce })).externalMessageIds[0]!),
      };
    }
    const number = live?.whatsapp;
    if (!number) return { refused: 'whatsapp_number_not_connected' };
    const credentials = { phoneNumberId: number.phoneNumberId, accessToken: number.accessToken };
    const lastInboundAt = conversation.lastInboundAt === null ? null : new Date(conversation.lastInboundAt);
    const pseudonym = await pseudonymsOf(ports, tenantId);
    return {
      send: async (text, announce) =>
        platformMessageRef('whatsapp', pseudonym, (await deps.whatsapp.sendText(credentials, chatId, text, { lastInboundAt, beforePart: announce })).externalMessageIds[0]!),
    };
  };

  const deliver = async (event: Posted): Promise<void> => {
    const { messageId, channel, role, text } = event.data;
    if (role === 'user' || channel === 'api') return;
    const { tenantId } = parseStreamId(event.streamId);
    const at = { tenantId, streamId: event.streamId, causationId: event.id };
    const key = `${event.streamId}|${messageId}`;
    let row = await outbox.open(key, tenantId);
    if (row.state !== 'sending') {
      // sent and settled; only the record may be missing (a worker died after the outbox said so)
      if (row.state === 'delivered') await recordDelivered(ports, at, { messageId, channel, externalMessageIds: row.ids, unconfirmedParts: row.unconfirmed });
      return;
    }
    const { state: conversation } = await ports.shell.state(conversationDecider, event.streamId);
    if (conversation.status !== 'none' && !conversation.pendingDeliveries.some((p) => p.messageId === messageId)) return; // settled in the log
    if (row.attempting !== null) {
      // An attempt without an answer: a worker died around the request. If our journal says the request
      // never left, it is sent now; if it left, or nobody can tell, it is never sent twice.
      const journal = deps.journal;
      if (journal && row.attemptBy === journal.id && !journal.left(key, row.attempting)) {
        await outbox.released(key);
        log.info({ streamId: event.streamId, messageId, part: row.attempting }, 'an interrupted send had not left; sending it now');
      } else {
        await outbox.unconfirmed(key, row.attempting);
        log.warn({ streamId: event.streamId, messageId, part: row.attempting }, 'a send was interrupted after it may have left; counted as sent, not repeated');
      }
      row = await outbox.open(key, tenantId);
    }
    const parts = splitText(text, MAX_MESSAGE_CHARS);
    const sender = await senderFor(event);
    const fail = async (reason: string) => {
      await recordDeliveryFailed(ports, at, { messageId, channel, reason, retryable: false });
      await outbox.settled(key, 'failed');
    };
    if ('refused' in sender) return fail(sender.refused);
    for (let part = row.sent; part < parts.length; part++) {
      let announced = false;
      const announce = async () => {
        await outbox.attempt(key, part, deps.journal?.id ?? null);
        announced = true;
      };
      const send = () => sender.send(parts[part]!, announce);
      let id: string;
      try {
        id = await (deps.journal ? deps.journal.around(key, part, send) : send());
      } catch (error) {
        const failure = channelFailureOf(error);
        if (announced && failure?.maybeDelivered) {
          if (deps.journal?.left(key, part) === false) {
            // no answer, but the journal saw no byte of the request leave (a connection that never opened, a
            // socket closed before the write): nothing can have been sent, so the part may go again
            await outbox.released(key);
            log.info({ streamId: event.streamId, messageId, part, reason: (error as Error).message }, 'a send failed before its request left; it will be sent again');
            throw error; // the bus tries the batch again
          }
          await outbox.unconfirmed(key, part);
          log.warn({ streamId: event.streamId, messageId, part, reason: (error as Error).message }, 'a send got no answer after it left; counted as sent, not repeated');
          continue;
        }
        // certainly not sent (refused, or failed before the request): the part may go later
        if (announced) await outbox.released(key);
        if (failure && !failure.retryable) return fail(isAppError(error) ? error.code : 'delivery_failed');
        throw error; // may pass: the bus tries the batch again
      }
      await outbox.sent(key, part, id); // a failure here leaves the attempt standing: never sent twice
    }
    row = await outbox.open(key, tenantId);
    await recordDelivered(ports, at, { messageId, channel, externalMessageIds: row.ids, unconfirmedParts: row.unconfirmed });
    await outbox.settled(key, 'delivered');
  };

  return consumeDecoded(
    deps.bus,
    deps.codec,
    deps.consumer ?? BOTS_CONSUMER,
    { categories: ['conversation'], eventTypes: ['MessagePosted'], decode: 'open' },
    async (events) => {
      // streams side by side, each stream's messages in order
      const byStream = new Map<string, Posted[]>();
      for (const event of events) if (event.type === 'MessagePosted') byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event]);
      const results = await Promise.allSettled(
        [...byStream.values()].map(async (list) => {
          for (const event of list) await deliver(event);
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  );
};
