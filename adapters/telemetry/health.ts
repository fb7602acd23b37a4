import { measureLags } from './lag.ts';

/** One thing readiness depends on: a database answering, a projector not failing over and over. */
export type HealthCheck = () => Promise<{ readonly ok: boolean; readonly detail?: string }>;

const checks = new Map<string, HealthCheck>();
const CHECK_TIMEOUT_MS = 3_000;

/** Registers a readiness check under `name` (unique in the process); returns its removal. */
export const watchHealth = (name: string, check: HealthCheck): (() => void) => {
  checks.set(name, check);
  return () => {
    if (checks.get(name) === check) checks.delete(name);
  };
};

/**
 * Failures of a loop that retries on its own (a projector, a relay): healthy until `threshold`
 * failures in a row without a success between them, or at once when it halted for good.
 */
export const trackFailures = (name: string, threshold = 3) => {
  let streak = 0;
  let lastError = '';
  let halted: string | undefined;
  const remove = watchHealth(name, async () => {
    if (halted) return { ok: false, detail: `halted: ${halted}` };
    if (streak >= threshold) return { ok: false, detail: `failed ${streak} times in a row: ${lastError}` };
    return { ok: true, ...(streak > 0 ? { detail: `${streak} recent failure(s): ${lastError}` } : {}) };
  });
  const text = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 300);
  return {
    failed(error: unknown) {
      streak++;
      lastError = text(error);
    },
    halted(error: unknown) {
      halted = text(error);
    },
    succeeded() {
      streak = 0;
    },
    remove,
  };
};

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, { ok: boolean; detail?: string }>;
}

const run = async (check: HealthCheck) => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check(),
      new Promise<{ ok: boolean; detail: string }>((resolve) => (timer = setTimeout(() => resolve({ ok: false, detail: 'no answer within 3 s' }), CHECK_TIMEOUT_MS))),
    ]);
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Every check, and every watched reader of the log (projections, relay, consumers) caught up
 * within `maxLagSeconds` (or `maxLagEvents` where only events are known).
 */
export const readiness = async (bounds: { maxLagSeconds: number; maxLagEvents: number }): Promise<Readiness> => {
  const entries = await Promise.all([...checks].map(async ([name, check]) => [name, await run(check)] as const));
  const results: Record<string, { ok: boolean; detail?: string }> = Object.fromEntries(entries);
  for (const lag of await measureLags()) {
    const behind = lag.seconds !== undefined ? lag.seconds > bounds.maxLagSeconds : lag.events > bounds.maxLagEvents;
    results[`${lag.kind}:${lag.name}`] = {
      ok: !behind,
      detail: `${lag.events} events${lag.seconds !== undefined ? `, ${lag.seconds.toFixed(1)} s` : ''} behind`,
    };
  }
  return { ready: Object.values(results).every((r) => r.ok), checks: results };
};
