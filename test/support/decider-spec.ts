import { expect } from 'vitest';
import { fold } from '../../domain/shared/decider.ts';
import type { Decider } from '../../domain/shared/decider.ts';
import { isAppError } from '../../domain/shared/errors.ts';
import type { AppError } from '../../domain/shared/errors.ts';

/**
 * Given / When / Then for deciders:
 *   spec(decider).given(events).when(command).then(events)
 *   spec(decider).given(events).when(command).thenThrows('code')
 *   spec(decider).given(events).when(command).thenNothing()
 * `then` also folds the produced events, so every decided event must be one `evolve` accepts.
 */
export interface Outcome<Event, State> {
  then(expected: readonly Event[]): State;
  thenThrows(code: string): AppError;
  thenNothing(): void;
}

export const spec = <Command, Event, State>(decider: Decider<Command, Event, State>) => ({
  given: (events: readonly Event[]) => ({
    when: (command: Command): Outcome<Event, State> => {
      const state = fold(decider, events);
      const run = () => decider.decide(command, state);
      return {
        then(expected) {
          const produced = run();
          expect(produced).toEqual(expected);
          return fold(decider, produced, state);
        },
        thenThrows(code) {
          let caught: unknown;
          try {
            const produced = run();
            expect.fail(`expected ${code}, got events ${JSON.stringify(produced)}`);
          } catch (error) {
            caught = error;
          }
          if (!isAppError(caught)) throw caught;
          expect(caught.code).toBe(code);
          return caught;
        },
        thenNothing() {
          expect(run()).toEqual([]);
        },
      };
    },
  }),
});
