import path from 'node:path';
import { startDelivery } from '../adapters/channels/delivery.ts';
import { createOutbox } from '../adapters/channels/outbox.ts';
import type { Outbox } from '../adapters/channels/outbox.ts';
import { openSendJournal } from '../adapters/channels/send-journal.ts';
import { pseudonymsOf } from '../adapters/crypto/pseudonyms.ts';
import type { CommandPorts } from '../commands/context.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import type { CommandShell } from '../commands/shell/handle-command.ts';
import { randomUUID } from 'node:crypto';
import { channelsOf } from './channels.ts';
import type { Logger } from './logger.ts';
import type { RoleContext, RunningRole } from './roles.ts';
import type { Storage } from './stores.ts';

/**
 * Delivery of agents' answers to bot users on a storage: the outbox table beside the bus checkpoints,
 * the Telegram and WhatsApp clients of this process, and the `bots` bus consumer.
 */
export const startBots = async (options: {
  storage: Storage;
  shell: CommandShell;
  eventSchema: string;
  env: Record<string, string | undefined>;
  log: Logger;
  /** The send journal's file; null: none (see BOTS_SEND_JOURNAL). */
  journalFile: string | null;
}): Promise<{ stop(): Promise<void> }> => {
  const { storage, log } = options;
  const outbox = await createOutbox(storage.db, options.eventSchema);
  const journal = await openJournal(options, outbox);
  const channels = channelsOf(options.env, 'http://127.0.0.1', journal?.agents);
  // Delivery records carry no tenant facts and no quota: the usage lookup is never asked.
  const ports: CommandPorts = {
    shell: options.shell,
    clock: () => new Date(),
    newId: randomUUID,
    usage: { messagesToday: async () => 0, activeKnights: async () => 0 },
    // the platforms' ids of sent messages are kept as pseudonyms
    ...(storage.keys ? { pseudonyms: pseudonymsOf(storage.keys) } : {}),
  };
  const subscription = await startDelivery({
    bus: storage.bus,
    codec: storage.codec,
    ports,
    outbox,
    telegram: channels.telegram,
    whatsapp: channels.whatsapp,
    log,
    journal,
  });
  log.info({ journal: journal ? options.journalFile : 'off' }, 'bot delivery running');
  return {
    async stop() {
      await subscription.close();
      journal?.close();
    },
  };
};

/** The worker's send journal, its lines cut to the attempts still open under it; none when off or held by another process. */
const openJournal = async (options: { journalFile: string | null; log: Logger }, outbox: Outbox) => {
  if (options.journalFile === null) return undefined;
  const opened = openSendJournal(options.journalFile);
  if ('unavailable' in opened) {
    options.log.warn({ reason: opened.unavailable }, 'no send journal: an interrupted send will count as sent, never repeated');
    return undefined;
  }
  const open = new Map((await outbox.openAttempts(opened.id)).map(({ key, part }) => [key, part]));
  opened.compact((key, part) => open.get(key) === part);
  return opened;
};

/** BOTS_SEND_JOURNAL, or DATA_DIR/bots-send.journal; null when `off`. */
export const journalFileOf = (env: Record<string, string | undefined>, dataDir: string): string | null => {
  const configured = env.BOTS_SEND_JOURNAL;
  if (configured === 'off') return null;
  return path.resolve(configured ?? path.join(dataDir, 'bots-send.journal'));
};

/** The `bots` role: sends agents' answers to Telegram and WhatsApp from the log. */
export const startBotsRole = async (ctx: RoleContext): Promise<RunningRole> => {
  const storage = await ctx.storage();
  const bots = await startBots({
    storage,
    shell: createCommandShell({ store: storage.store, codec: storage.codec }),
    eventSchema: ctx.config.EVENT_STORE_SCHEMA,
    env: ctx.env,
    log: ctx.log,
    journalFile: journalFileOf(ctx.env, ctx.config.DATA_DIR),
  });
  return { banner: `bots running (${storage.describe})`, stop: bots.stop };
};
