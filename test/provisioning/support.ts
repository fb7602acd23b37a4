import { randomUUID } from 'node:crypto';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator, SimulatorOptions } from '../../adapters/orgo/simulator/server.ts';
import type { Resolve } from '../../adapters/openclaw/address-guard.ts';
import type { Decoded } from '../../domain/events.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { client, ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import { slug } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';

/** Fast simulated timings: every state still passes through creating and starting. */
export const QUICK_DELAYS = { creatingMs: 40, startingMs: 60, stoppingMs: 20, deletingMs: 30, bashMs: 2, slowCommands: [] };

/** Polls until `check` returns a value (not undefined), or fails naming what it waited for. */
export const eventually = async <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

export interface SagaHarness {
  readonly sim: OrgoSimulator;
  readonly api: ApiHarness;
  readonly operator: Client;
  /** A new tenant and a client with its API key. */
  tenant(tier?: 'free' | 'pro' | 'enterprise'): Promise<{ tenantId: string; me: Client }>;
  /** A stream's events, decoded (typed, personal data decrypted). */
  events(streamId: string): Promise<Decoded[]>;
  /** A stream's events as stored. */
  raw(streamId: string): Promise<RecordedEvent[]>;
  close(): Promise<void>;
}

/** The whole platform on PostgreSQL with the saga in process, on a simulated Orgo reached through the real client. */
export const startSagaHarness = async (
  options: { sim?: SimulatorOptions; env?: Record<string, string>; apiKey?: (sim: OrgoSimulator) => string; agents?: boolean; resolveGatewayHost?: Resolve; log?: Logger } = {},
): Promise<SagaHarness> => {
  const sim = await startOrgoSimulator({ delays: QUICK_DELAYS, ...options.sim });
  const api = await startApiHarness(
    {
      ORGO_API_URL: sim.url,
      ORGO_API_KEY: options.apiKey?.(sim) ?? sim.apiKey,
      ORGO_WORKSPACE_ID: sim.workspaceId,
      ORGO_TIMEOUT_MS: '2000',
      ORGO_POLL_MS: '20',
      ORGO_RETRY_DELAYS_MS: '20,40,80',
      RECONCILE_INTERVAL_SECONDS: '0',
      SAGA_INSTANCE_ID: `test-${randomUUID()}`,
      ...options.env,
    },
    { saga: true, ...(options.agents ? { agents: true } : {}), ...(options.resolveGatewayHost ? { resolveGatewayHost: options.resolveGatewayHost } : {}), ...(options.log ? { log: options.log } : {}) },
  );
  const operator = client(api.baseUrl, api.operatorKey);
  return {
    sim,
    api,
    operator,
    async tenant(tier = 'pro') {
      const tenantId = slug('t');
      ok(await operator.post('/tenants', { slug: tenantId, name: 'Acme', tier }), 201);
      const issued = ok(await operator.post<{ key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci' }), 201);
      ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
      return { tenantId, me: client(api.baseUrl, issued.key) };
    },
    events: async (streamId) => api.storage.codec.decode(await api.storage.store.readStream(streamId), 'open'),
    raw: (streamId) => api.storage.store.readStream(streamId),
    async close() {
      await api.close();
      await sim.close();
    },
  };
};
