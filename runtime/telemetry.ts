import type { Express } from 'express';
import type { Authenticator } from '../adapters/auth/authenticate.ts';
import { isHttpError } from '../adapters/http/http-error.ts';
import { projectionStatus } from '../adapters/projections/status.ts';
import { trackFailures, watchHealth } from '../adapters/telemetry/health.ts';
import { metricsRoute, startTelemetryServer } from '../adapters/telemetry/http.ts';
import { watchLag } from '../adapters/telemetry/metrics.ts';
import { shellTelemetry } from '../adapters/telemetry/tracing.ts';
import { instrumentShell } from '../commands/shell/instrumentation.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Storage } from './stores.ts';

/** Command latency, outcome and spans for every command shell of this process. */
export const installShellTelemetry = () => instrumentShell(shellTelemetry);

/**
 * The read models of `schema` watched at every scrape and readiness check (position, lag in
 * events and seconds, from the checkpoints: whichever process or thread projects them). Returns its
 * removal. The database itself is watched by whoever opened the storage (`watchDatabase`), once.
 */
export const watchReadModels = (storage: Storage, schema: string): (() => void) =>
  watchLag(async () =>
    (await projectionStatus(storage.db, storage.store, { schema, projections: PROJECTIONS })).map((p) => ({
      kind: 'projection' as const,
      name: p.name,
      events: p.lagEvents,
      seconds: p.lagSeconds,
      position: p.position,
    })),
  );

/**
 * The database answering, in readiness: every process that opens a storage depends on it. Registered
 * once, by whoever opened the storage (the roles' process, `servePlatform` on a storage of its own, a
 * stack), and removed when it closes: a readiness check is one per name, so a second registration
 * would replace the first, and its removal (a role or platform stopping) take the database out of
 * readiness while the process still runs on it.
 */
export const watchDatabase = (storage: Storage): (() => void) =>
  watchHealth('database', async () => {
    await storage.db.query('SELECT 1');
    return { ok: true };
  });

/** A projector's failures in readiness: three failed batches in a row, or a halt, make the process not ready. */
export const projectorHealth = (schema: string) => trackFailures(`projector:${schema}`);

/**
 * GET /metrics on the API's app, for the operator only; put before the API's fallbacks. The credential
 * goes through the API's own authenticator, so a wrong one counts against the address's failed-attempts
 * budget (429 past it) like anywhere else on the API, instead of being an unlimited way to test
 * operator-key guesses; the operator key that verified before is still served without a store round trip.
 */
export const mountMetrics = (app: Express, authenticator: Authenticator) =>
  app.get(
    '/metrics',
    metricsRoute({
      operator: async (req) => {
        try {
          return (await authenticator.authenticate(req)).scope === 'operator';
        } catch (error) {
          if (isHttpError(error) && error.status === 401) return false; // counted already; answered as operator_required
          throw error;
        }
      },
    }),
  );

export { startTelemetryServer };
