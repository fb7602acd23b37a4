import { relayLag } from '../adapters/relay/relay.ts';
import type { ConsumerLag } from '../domain/ports/bus.ts';
import { loadConfig } from './config.ts';
import { openStorage } from './stores.ts';

/**
 * `openclaw-service bus status [consumer…]`: how far the Kafka topic is behind the store (the
 * relay's checkpoint, when KAFKA_BROKERS is set) and how far each named consumer is behind its
 * bus (per Kafka partition, or the log for the in-process bus).
 */
export const busStatus = async (consumers: readonly string[], json: boolean) => {
  const config = loadConfig();
  const storage = await openStorage(config, 'cli');
  try {
    const relay = config.KAFKA_BROKERS ? await relayLag({ store: storage.store, checkpoints: storage.checkpoints, topic: config.KAFKA_TOPIC }) : undefined;
    const lags: Array<ConsumerLag | { consumer: string; error: string }> = [];
    for (const consumer of consumers)
      lags.push(await storage.bus.lag(consumer).catch((error: unknown) => ({ consumer, error: error instanceof Error ? error.message : String(error) })));
    if (json) {
      process.stdout.write(`${JSON.stringify({ bus: config.BUS, relay: relay ?? null, consumers: lags })}\n`);
      return;
    }
    const lines = [`bus: ${config.BUS}`];
    if (relay)
      lines.push(
        `relay → ${config.KAFKA_TOPIC}: ${relay.events}${relay.events >= 10_000 ? '+' : ''} events behind (${relay.seconds.toFixed(1)} s), checkpoint ${relay.checkpoint ?? '-'}, head ${relay.head ?? '-'}`,
      );
    for (const lag of lags) {
      if ('error' in lag) {
        lines.push(`${lag.consumer}: lag unknown: ${lag.error}`);
        continue;
      }
      lines.push(`${lag.consumer}: ${lag.total} behind`);
      for (const p of lag.partitions) lines.push(`  ${p.partition.padEnd(4)} committed ${p.committed ?? '-'}  end ${p.end === '-1' ? '-' : p.end}  lag ${p.lag}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await storage.close();
  }
};
