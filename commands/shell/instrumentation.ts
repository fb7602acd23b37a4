/**
 * What the command shell reports as it works, for metrics and traces. The runtime installs the
 * telemetry adapter's implementation at start; until then (tests, benchmarks' baselines) nothing
 * is measured and nothing is added to event metadata.
 */
export interface ShellInstrumentation {
  /** Runs a whole command (all attempts); `outcome` names how it ended (ok, duplicate, noop). */
  command<T>(name: string, run: () => Promise<T>, outcome: (result: T) => string): Promise<T>;
  /** Runs one append of `events` events. */
  append<T>(events: number, run: () => Promise<T>): Promise<T>;
  /** The W3C traceparent of the active span, stored in the events' metadata; undefined when not tracing. */
  traceparent(): string | undefined;
}

const passthrough: ShellInstrumentation = {
  command: (_name, run) => run(),
  append: (_events, run) => run(),
  traceparent: () => undefined,
};

let installed = passthrough;

export const instrumentShell = (instrumentation: ShellInstrumentation): void => {
  installed = instrumentation;
};

export const shellInstrumentation = (): ShellInstrumentation => installed;

/** The command's `type` (every domain command has one), else the aggregate category. */
export const commandName = (command: unknown, fallback: string): string =>
  typeof command === 'object' && command !== null && 'type' in command && typeof command.type === 'string' ? command.type : fallback;
