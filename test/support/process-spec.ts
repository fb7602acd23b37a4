import { expect } from 'vitest';
import { fold } from '../../domain/shared/decider.ts';
import type { JobAction, JobInput, ProcessManager, ProvisioningPolicy } from '../../domain/provisioning/job.ts';

/**
 * Given / When / Then for process managers:
 *   processSpec(job, policy).given(events).when(input).then(action)
 * The state is folded from the events exactly as the runner folds the stream after a restart.
 */
export const processSpec = <Event, State, Command>(manager: ProcessManager<Event, State, Command>, policy: ProvisioningPolicy) => ({
  given: (events: readonly Event[]) => ({
    when: (input: JobInput) => ({
      then(expected: JobAction<Command>): JobAction<Command> {
        const action = manager.decide(input, fold(manager, events), policy);
        expect(action).toEqual(expected);
        return action;
      },
      /** For actions whose text is checked by pattern. */
      action: (): JobAction<Command> => manager.decide(input, fold(manager, events), policy),
    }),
  }),
});
