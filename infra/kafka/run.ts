/**
 * `npm run kafka`: a local broker in the foreground for development, on 127.0.0.1:9092 (KAFKA_PORT
 * to change; the controller takes the next port), its data kept in .tmp/kafka-dev across runs.
 * Ctrl-C stops it.
 */
import path from 'node:path';
import { startKafkaBroker } from './broker.ts';

const brokerPort = Number(process.env.KAFKA_PORT ?? 9092);
const broker = await startKafkaBroker({
  dir: path.resolve(import.meta.dirname, '../../.tmp/kafka-dev'),
  brokerPort,
  controllerPort: brokerPort + 1,
});
process.stdout.write(`Kafka broker answering: KAFKA_BROKERS=${broker.brokers} (logs in ${broker.dir}); Ctrl-C stops it\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void broker.stop().then(() => process.exit(0)));
