import { AppError } from '../../domain/shared/errors.ts';

/**
 * A circuit breaker per key (per tenant): after `failures` consecutive failures the circuit opens
 * and calls fail at once for `openMs`; then one call is let through (half-open) and its outcome
 * closes or reopens the circuit. One tenant's broken gateway never slows another's.
 */
export const createBreakers = (options: { failures: number; openMs: number; now?: () => number; maxKeys?: number }) => {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const circuits = new Map<string, { failures: number; openUntil: number; probing: boolean }>();
  const circuitOf = (key: string) => {
    let c = circuits.get(key);
    if (!c) {
      circuits.set(key, (c = { failures: 0, openUntil: 0, probing: false }));
      if (circuits.size > maxKeys) circuits.delete(circuits.keys().next().value!);
    }
    return c;
  };
  return {
    async run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const c = circuitOf(key);
      const open = c.failures >= options.failures;
      if (open && (now() < c.openUntil || c.probing))
        throw new AppError('unavailable', 'agent_circuit_open', `the agent gateway failed ${c.failures} times in a row; not asking it for ${Math.ceil(Math.max(0, c.openUntil - now()) / 1000)} s`);
      if (open) c.probing = true;
      try {
        const result = await work();
        c.failures = 0;
        return result;
      } catch (error) {
        c.failures += 1;
        if (c.failures >= options.failures) c.openUntil = now() + options.openMs;
        throw error;
      } finally {
        c.probing = false;
      }
    },
    state: (key: string) => {
      const c = circuits.get(key);
      return !c || c.failures < options.failures ? 'closed' : now() < c.openUntil ? 'open' : 'half-open';
    },
  };
};
export type Breakers = ReturnType<typeof createBreakers>;
