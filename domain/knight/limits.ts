import type { KnightStatus } from './state.ts';

/**
 * The statuses in which a knight counts against its tier's knights-at-once: it holds a computer or
 * is about to get one, and works or will. A failed knight (its computer is being deleted, it will
 * never work again) and a terminating one (on its way out) do not count, nor does a terminated one.
 */
export const KNIGHT_STATUSES_AT_WORK = ['requested', 'provisioning', 'provisioned', 'working'] as const;

export const countsAgainstKnightLimit = (status: KnightStatus): boolean => (KNIGHT_STATUSES_AT_WORK as readonly string[]).includes(status);
