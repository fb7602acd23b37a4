import { randomUUID } from 'node:crypto';
import type { ComputerStatus } from '../types.ts';

/**
 * The simulated Orgo's inventory: workspaces and computers following the documented state
 * machine (creating → starting → running; stop → stopping → stopped; start → starting → running;
 * restart → restarting → running; delete → deleting → gone). States advance lazily with time, so
 * zero delays make a computer running as soon as it is created.
 */
export interface SimDelays {
  readonly creatingMs: number;
  readonly startingMs: number;
  readonly stoppingMs: number;
  readonly deletingMs: number;
  /** Every bash command takes this long, unless a slower pattern matches. */
  readonly bashMs: number;
  /** Slower commands, e.g. package installs. */
  readonly slowCommands: readonly { readonly pattern: RegExp; readonly ms: number }[];
}

/**
 * The simulator's defaults. Orgo documents no timings; these are what its service shows in
 * practice for a fresh Linux desktop (about 2 s to running), and an npm install takes seconds.
 */
export const DOCUMENTED_DELAYS: SimDelays = Object.freeze({
  creatingMs: 500,
  startingMs: 1_500,
  stoppingMs: 500,
  deletingMs: 500,
  bashMs: 50,
  slowCommands: Object.freeze([{ pattern: /npm install/, ms: 2_000 }]),
});

export const NO_DELAYS: SimDelays = Object.freeze({ creatingMs: 0, startingMs: 0, stoppingMs: 0, deletingMs: 0, bashMs: 0, slowCommands: [] });

export interface SimComputer {
  readonly id: string;
  readonly name: string;
  readonly workspaceId: string;
  readonly cpu: number;
  readonly ram: number;
  readonly diskSizeGb: number;
  readonly createdAt: string;
  readonly instanceId: string;
  status: ComputerStatus;
  since: number;
  /** Where the computer settles after booting: running, or error when a fault says so. */
  bootsTo: 'running' | 'error';
  gone: boolean;
}

export interface SimWorkspace {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

type PhaseDelay = 'creatingMs' | 'startingMs' | 'stoppingMs' | 'deletingMs';

const NEXT: Partial<Record<ComputerStatus, { after: PhaseDelay; to: ComputerStatus | 'gone' | 'boot' }>> = {
  creating: { after: 'creatingMs', to: 'starting' },
  starting: { after: 'startingMs', to: 'boot' },
  restarting: { after: 'startingMs', to: 'boot' },
  stopping: { after: 'stoppingMs', to: 'stopped' },
  deleting: { after: 'deletingMs', to: 'gone' },
};

/** What a world holds: saved by the simulator after each change, and given back to `createWorld` at its next start. */
export interface WorldState {
  readonly workspaces: readonly SimWorkspace[];
  readonly computers: readonly SimComputer[];
}

/** `saved`: the inventory to start from; `changed`: called after every change a caller made (not after a state's lapse of time). */
export const createWorld = (delays: SimDelays, now: () => number = Date.now, saved?: WorldState, changed: () => void = () => undefined) => {
  const workspaces = new Map<string, SimWorkspace>((saved?.workspaces ?? []).map((w) => [w.id, { ...w }]));
  const computers = new Map<string, SimComputer>((saved?.computers ?? []).map((c) => [c.id, { ...c }]));

  const advance = (c: SimComputer): SimComputer => {
    for (;;) {
      const step = NEXT[c.status];
      if (!step || c.gone) return c;
      const due = c.since + delays[step.after];
      if (now() < due) return c;
      if (step.to === 'gone') c.gone = true;
      else c.status = step.to === 'boot' ? c.bootsTo : step.to;
      c.since = due;
    }
  };

  const live = (c: SimComputer | undefined) => (c && !advance(c).gone ? c : undefined);
  // Workspaces' created_at in microseconds, as a database would give it: two made in the same
  // millisecond still show which came first
  let last = { ms: Number.NaN, micros: 0 };
  const createdAtMicros = () => {
    const ms = now();
    last = ms === last.ms ? { ms, micros: last.micros + 1 } : { ms, micros: 0 };
    return `${new Date(ms).toISOString().slice(0, -1)}${String(last.micros % 1_000).padStart(3, '0')}Z`;
  };

  return {
    delays,
    /** `createdAt`: a test's own (e.g. two workspaces made at the very same time); the clock's otherwise. */
    addWorkspace(name: string, id = `ws-${randomUUID().slice(0, 8)}`, createdAt?: string): SimWorkspace {
      const workspace = { id, name, createdAt: createdAt ?? createdAtMicros() };
      workspaces.set(id, workspace);
      changed();
      return workspace;
    },
    workspace: (id: string) => workspaces.get(id),
    workspaces: () => [...workspaces.values()],
    deleteWorkspace(id: string) {
      workspaces.delete(id);
      for (const c of computers.values()) if (c.workspaceId === id) c.gone = true;
      changed();
    },
    computer: (id: string) => live(computers.get(id)),
    computersOf: (workspaceId: string) => [...computers.values()].filter((c) => c.workspaceId === workspaceId && live(c)),
    all: () => [...computers.values()].filter((c) => live(c)),
    byName: (workspaceId: string, name: string) =>
      [...computers.values()].find((c) => c.workspaceId === workspaceId && c.name === name && live(c)),
    create(workspaceId: string, spec: { name: string; cpu: number; ram: number; diskSizeGb: number }, bootsTo: 'running' | 'error'): SimComputer {
      const id = randomUUID();
      const c: SimComputer = {
        id,
        workspaceId,
        ...spec,
        createdAt: new Date(now()).toISOString(),
        instanceId: `i-${id.slice(0, 12)}`,
        status: 'creating',
        since: now(),
        bootsTo,
        gone: false,
      };
      computers.set(id, c);
      changed();
      return advance(c);
    },
    move(c: SimComputer, status: ComputerStatus) {
      c.status = status;
      c.since = now();
      advance(c);
      changed();
    },
    /** Makes a computer vanish, as if deleted behind the platform's back. */
    vanish(id: string) {
      const c = live(computers.get(id));
      if (!c) return;
      c.gone = true;
      changed();
    },
    /** The workspaces and the computers not gone (a deleting one is kept: it finishes by its clock). */
    state: (): WorldState => ({ workspaces: [...workspaces.values()], computers: [...computers.values()].filter((c) => !c.gone) }),
    advance,
  };
};

export type World = ReturnType<typeof createWorld>;
