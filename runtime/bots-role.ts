import { startDelivery } from '../adapters/channels/delivery.ts';
import { createOutbox } from '../adapters/channels/outbox.ts';
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
}): Promise<{ stop(): Promise<void> }> => {
  const { storage, log } = options;
  const outbox = await createOutbox(storage.db, options.eventSchema);
  const channels = channelsOf(options.env, 'http://127.0.0.1');
  // Delivery records carry no tenant facts and no quota: the usage lookup is never asked.
  const ports: CommandPorts = {
    shell: options.shell,
    clock: () => new Date(),
    newId: randomUUID,
    usage: { messagesToday: async () => 0, activeKnights: async () => 0 },
  };
  const subscription = await startDelivery({
    bus: storage.bus,
    codec: storage.codec,
    ports,
    outbox,
    telegram: channels.telegram,
    whatsapp: channels.whatsapp,
    log,
  });
  log.info('bot delivery running');
  return { stop: () => subscription.close() };
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
  });
  return { banner: `bots running (${storage.describe})`, stop: bots.stop };
};
