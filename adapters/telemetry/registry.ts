import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process's one metrics registry (default process metrics included), served at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'openclaw_process_' });
