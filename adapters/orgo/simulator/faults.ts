/**
 * Faults the simulated Orgo injects on demand, for tests: an error status for the next calls of
 * an operation, a create that is accepted but never answered, computers that boot into `error`,
 * and scripted bash results by command pattern.
 */
export const SIM_OPERATIONS = ['create', 'get', 'delete', 'list', 'start', 'stop', 'restart', 'bash', 'screenshot', 'workspaces', 'any'] as const;
export type SimOperation = (typeof SIM_OPERATIONS)[number];

export interface StatusFault {
  readonly op: SimOperation;
  readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 500 | 503;
  /** How many calls get it (default 1); Infinity until cleared. */
  readonly times?: number;
  /** Only calls whose computer name (or create name) matches. */
  readonly name?: RegExp;
  readonly error?: string;
  readonly code?: string;
}

export interface ScriptedCommand {
  readonly pattern: RegExp;
  readonly exitCode: number;
  readonly output?: string;
  readonly delayMs?: number;
}

export const createFaults = () => {
  const statuses: (StatusFault & { left: number })[] = [];
  const silentCreates: { name: RegExp | undefined; left: number }[] = [];
  const errorBoots: RegExp[] = [];
  const scripts: ScriptedCommand[] = [];
  return {
    fail(fault: StatusFault) {
      statuses.push({ ...fault, left: fault.times ?? 1 });
    },
    /** The next create(s) are carried out but never answered: the client times out. */
    timeoutAfterCreate(times = 1, name?: RegExp) {
      silentCreates.push({ name, left: times });
    },
    endInError(name: RegExp) {
      errorBoots.push(name);
    },
    script(command: ScriptedCommand) {
      scripts.unshift(command); // the latest script wins
    },
    clear() {
      statuses.length = 0;
      silentCreates.length = 0;
      errorBoots.length = 0;
      scripts.length = 0;
    },
    takeStatus(op: SimOperation, name: string | undefined): StatusFault | undefined {
      const index = statuses.findIndex((f) => (f.op === op || f.op === 'any') && f.left > 0 && (!f.name || (name !== undefined && f.name.test(name))));
      if (index < 0) return undefined;
      const fault = statuses[index]!;
      fault.left -= 1;
      if (fault.left <= 0) statuses.splice(index, 1);
      return fault;
    },
    takeSilentCreate(name: string): boolean {
      const entry = silentCreates.find((s) => s.left > 0 && (!s.name || s.name.test(name)));
      if (!entry) return false;
      entry.left -= 1;
      return true;
    },
    bootsTo: (name: string): 'running' | 'error' => (errorBoots.some((p) => p.test(name)) ? 'error' : 'running'),
    scripted: (command: string) => scripts.find((s) => s.pattern.test(command)),
  };
};

export type Faults = ReturnType<typeof createFaults>;
