import type { AggregateDecider } from '../events.ts';
import type { KnightCommand } from './commands.ts';
import { decideKnight } from './decide.ts';
import { evolveKnight, initialKnightState } from './state.ts';
import type { KnightState } from './state.ts';

export const knightDecider: AggregateDecider<'knight', KnightCommand, KnightState> = {
  category: 'knight',
  initialState: initialKnightState,
  evolve: evolveKnight,
  decide: decideKnight,
};

export type * from './commands.ts';
export type * from './events.ts';
export type * from './state.ts';
export { KNIGHT_CPUS, KNIGHT_EVENT_TYPES, KNIGHT_FAILURE_STAGES, KNIGHT_RAM_GB } from './events.ts';
export { evolveKnight, initialKnightState } from './state.ts';
export { decideKnight } from './decide.ts';
export { countsAgainstKnightLimit, KNIGHT_STATUSES_AT_WORK, knightsEndedByTierChange } from './limits.ts';
export type { KnightAtTierChange } from './limits.ts';
