import { Gauge } from 'prom-client';
import { registry } from './registry.ts';

/** How far one reader of the log is behind it, measured now. */
export interface LagSample {
  readonly kind: 'projection' | 'consumer' | 'relay';
  /** The projection, consumer group or topic. */
  readonly name: string;
  readonly events: number;
  /** Age of the oldest event not yet handled; undefined where the reader cannot tell (a Kafka consumer). */
  readonly seconds?: number;
  /** The position reached, where there is one global position (projections, relay). */
  readonly position?: string | null;
}

export type LagSource = () => Promise<readonly LagSample[]>;

const sources = new Set<LagSource>();
/** One measurement serves every gauge of one scrape (and readiness checks within a second). */
let last: { at: number; samples: Promise<readonly LagSample[]> } | undefined;
const FRESH_MS = 1_000;
const MEASURE_TIMEOUT_MS = 5_000;

/** Registers a source measured at each scrape; returns its removal (a stopping role calls it). */
export const watchLag = (source: LagSource): (() => void) => {
  sources.add(source);
  last = undefined;
  return () => {
    sources.delete(source);
    last = undefined;
  };
};

const withTimeout = <T>(promise: Promise<T>, fallback: T): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => fallback),
    new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), MEASURE_TIMEOUT_MS).unref())),
  ]).finally(() => clearTimeout(timer));
};

/** Every registered source's samples; a source that fails or hangs contributes none (its gauges go missing, which alerts can see). */
export const measureLags = (): Promise<readonly LagSample[]> => {
  if (last && Date.now() - last.at < FRESH_MS) return last.samples;
  const samples = Promise.all([...sources].map((source) => withTimeout(source(), []))).then((all) => all.flat());
  last = { at: Date.now(), samples };
  return samples;
};

const gauge = (name: string, help: string, label: string, kind: LagSample['kind'], value: (s: LagSample) => number | undefined) =>
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    async collect() {
      const samples = await measureLags();
      this.reset();
      for (const s of samples) {
        const v = s.kind === kind ? value(s) : undefined;
        if (v !== undefined) this.set({ [label]: s.name }, v);
      }
    },
  });

gauge('openclaw_projection_lag_events', 'Events in the log a projection has not applied yet', 'projection', 'projection', (s) => s.events);
gauge('openclaw_projection_lag_seconds', 'Age of the oldest event a projection has not applied yet (0 when caught up)', 'projection', 'projection', (s) => s.seconds);
gauge('openclaw_projection_position', 'The log position a projection has applied up to', 'projection', 'projection', (s) =>
  s.position ? Number(s.position) : undefined,
);
gauge('openclaw_consumer_lag_events', 'Events a bus consumer group has not handled yet (all partitions)', 'consumer', 'consumer', (s) => s.events);
gauge('openclaw_relay_lag_events', 'Events in the store the relay has not had acknowledged by Kafka yet', 'topic', 'relay', (s) => s.events);
gauge('openclaw_relay_lag_seconds', 'Age of the oldest event not yet relayed (0 when caught up)', 'topic', 'relay', (s) => s.seconds);
