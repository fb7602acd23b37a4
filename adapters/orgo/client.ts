import type { Vm, VmFailure, VmProvider, VmScreenshot } from '../../domain/ports/vm-provider.ts';
import { hasCode, isAppError } from '../../domain/shared/errors.ts';
import { ORGO_ERRORS, orgoWorkspaceNotFound } from './errors.ts';
import { orgoHttp } from './http.ts';
import type { OrgoHttpOptions } from './http.ts';
import { bashSchema, computerSchema, computerStatusOf, powerSchema, screenshotSchema, workspaceListSchema, workspaceSchema } from './types.ts';
import type { BashResult, Computer, ComputerSpec, ReportedComputer, Screenshot, Workspace } from './types.ts';

export interface OrgoClientOptions extends OrgoHttpOptions {
  /** Where a computer status this client does not know is reported (once per status). */
  readonly log?: { warn(details: Record<string, unknown>, message: string): void };
  /**
   * How long `workspaces.ensure` waits before listing the workspaces again (default 1 s), whether it made
   * the platform's workspace or found one: another process may have made one of the same name meanwhile
   * (an older one, or one of the very same created_at first by id), which every process then elects.
   */
  readonly workspaceSettleMs?: number;
}

/**
 * Oldest first, by Orgo's created_at (to the millisecond, then as text: a database's microseconds in the same
 * format still order), then by id; unreadable times last. Every process sorting the same listing picks the
 * same one, and the first one made is never younger than one made after it.
 */
const byAge = (a: Workspace, b: Workspace): number => {
  const at = (w: Workspace) => (w.created_at ? Date.parse(w.created_at) : Number.NaN);
  const [x, y] = [at(a), at(b)];
  if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
  if (!Number.isNaN(x) && x !== y) return x - y;
  const [p, q] = [a.created_at ?? '', b.created_at ?? ''];
  if (p !== q) return p < q ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

const id = (value: string) => encodeURIComponent(value);

/** Distinct unknown statuses remembered for logging once each (a bound: a misbehaving host cannot grow it). */
const UNKNOWN_STATUSES_KEPT = 100;

/** Orgo's REST API as documented (docs.orgo.ai); no SDK exists. */
export const createOrgoClient = (options: OrgoClientOptions) => {
  const call = orgoHttp(options);
  const unknownSeen = new Set<string>();
  /** The computer with its status read; a status Orgo added since is `unknown` (logged once), never a failed answer. */
  const read = (c: ReportedComputer): Computer => {
    const status = computerStatusOf(c.status);
    if (status === 'unknown' && !unknownSeen.has(c.status) && unknownSeen.size < UNKNOWN_STATUSES_KEPT) {
      unknownSeen.add(c.status);
      options.log?.warn(
        { status: c.status.slice(0, 64), computerId: c.id },
        'Orgo reported a computer status this client does not know: treated as unknown (neither running nor gone)',
      );
    }
    return { ...c, status, reported_status: c.status };
  };
  const power = (computerId: string, action: 'start' | 'stop' | 'restart') =>
    call({ method: 'POST', path: `/computers/${id(computerId)}/${action}`, operation: `POST /computers/{id}/${action}`, schema: powerSchema });

  /** The computer read on its own after a listing named it; undefined when it was deleted since (404). */
  const stillThere = async (computerId: string): Promise<Computer | undefined> => {
    try {
      return await computers.get(computerId);
    } catch (error) {
      if (hasCode(error, ORGO_ERRORS.notFound)) return undefined;
      throw error;
    }
  };

  const workspaces = {
    create: (name: string): Promise<Workspace> => call({ method: 'POST', path: '/workspaces', operation: 'POST /workspaces', body: { name }, schema: workspaceSchema }),
    list: async (): Promise<Workspace[]> =>
      (await call({ method: 'GET', path: '/workspaces', operation: 'GET /workspaces', schema: workspaceListSchema })).workspaces,
    get: (workspaceId: string) => call({ method: 'GET', path: `/workspaces/${id(workspaceId)}`, operation: 'GET /workspaces/{id}', schema: workspaceSchema }),
    delete: async (workspaceId: string): Promise<void> =>
      void (await call({ method: 'DELETE', path: `/workspaces/${id(workspaceId)}`, operation: 'DELETE /workspaces/{id}' })),
    /**
     * The workspace of that name, created when there is none. Names are not unique at Orgo, so two
     * processes starting at once could each make one: after making it, wait a moment, list again and use
     * the oldest of that name (the same one every process picks), deleting our own when it is not that one.
     * A process that found one waits and lists again too: another made at the very same time (the same
     * created_at) may not have been listed yet and, first by id, be the one every other process elects.
     */
    async ensure(name: string): Promise<Workspace> {
      const oldest = async () => (await workspaces.list()).filter((w) => w.name === name).sort(byAge)[0];
      const settle = () => (options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(options.workspaceSettleMs ?? 1_000);
      const existing = await oldest();
      if (existing) {
        await settle();
        return (await oldest()) ?? existing;
      }
      const mine = await workspaces.create(name);
      await settle();
      const chosen = (await oldest()) ?? mine;
      if (chosen.id !== mine.id) {
        // Ours lost. Another process may have listed while only ours was visible and put computers in
        // it (deleting a workspace deletes its computers): delete it only when it is still empty.
        try {
          const now = await workspaces.get(mine.id);
          if ((now.desktops ?? now.computers ?? []).length === 0) await workspaces.delete(mine.id);
          else options.log?.warn({ workspaceId: mine.id, chosen: chosen.id }, 'a duplicate Orgo workspace already holds computers: kept (set ORGO_WORKSPACE_ID to one workspace)');
        } catch (error) {
          options.log?.warn({ workspaceId: mine.id, code: isAppError(error) ? error.code : undefined }, 'could not delete a duplicate Orgo workspace; it stays unused');
        }
      }
      return chosen;
    },
  };

  const computers = {
    create: async (workspaceId: string, name: string, spec: ComputerSpec): Promise<Computer> =>
      read(await call({
        method: 'POST',
        path: '/computers',
        operation: 'POST /computers',
        body: {
          workspace_id: workspaceId,
          name,
          os: 'linux',
          cpu: spec.cpu,
          ram: spec.ramGb,
          ...(spec.diskGb ? { disk_size_gb: spec.diskGb } : {}),
          ...(spec.autoStopMinutes !== undefined ? { auto_stop_minutes: spec.autoStopMinutes } : {}),
        },
        schema: computerSchema,
      })),
    get: async (computerId: string): Promise<Computer> =>
      read(await call({ method: 'GET', path: `/computers/${id(computerId)}`, operation: 'GET /computers/{id}', schema: computerSchema })),
    delete: async (computerId: string): Promise<void> =>
      void (await call({ method: 'DELETE', path: `/computers/${id(computerId)}`, operation: 'DELETE /computers/{id}' })),
    start: (computerId: string) => power(computerId, 'start'),
    stop: (computerId: string) => power(computerId, 'stop'),
    /** Old hosts answer 405 to restart: then stop and start. */
    async restart(computerId: string) {
      try {
        return await power(computerId, 'restart');
      } catch (error) {
        if (!hasCode(error, ORGO_ERRORS.methodNotAllowed)) throw error;
        await power(computerId, 'stop');
        return power(computerId, 'start');
      }
    },
    /**
     * Every computer of the workspace, each with its status. One listed without its status is read on its
     * own; deleted between the listing and that read (a 404 of the computer), it is gone and left out: one
     * computer going must not fail the whole listing. But deleting the workspace deletes its computers too,
     * so after any such 404 the workspace is read again: gone, its 404 fails the listing (a workspace
     * deleted meanwhile must never read as one without computers).
     */
    async list(workspaceId: string): Promise<Computer[]> {
      const workspace = await workspaces.get(workspaceId);
      const listed = workspace.desktops ?? workspace.computers ?? [];
      const found = await Promise.all(listed.map((c) => (c.status !== undefined ? read({ ...c, status: c.status }) : stillThere(c.id))));
      if (found.includes(undefined)) await workspaces.get(workspaceId);
      return found.filter((c): c is Computer => c !== undefined);
    },
    /** Names are unique per workspace: the way to find a computer whose create answer was lost. */
    async findByName(workspaceId: string, name: string): Promise<Computer | undefined> {
      const workspace = await workspaces.get(workspaceId);
      const found = (workspace.desktops ?? workspace.computers ?? []).find((c) => c.name === name);
      if (!found) return undefined;
      if (found.status !== undefined) return read({ ...found, status: found.status });
      const computer = await stillThere(found.id);
      if (!computer) await workspaces.get(workspaceId); // gone alone, or with its workspace (then that 404)
      return computer;
    },
    async bash(computerId: string, command: string, timeoutSeconds = 200): Promise<BashResult> {
      const result = await call({
        method: 'POST',
        path: `/computers/${id(computerId)}/bash`,
        operation: 'POST /computers/{id}/bash',
        body: { command, timeout: timeoutSeconds },
        schema: bashSchema,
        timeoutMs: timeoutSeconds * 1_000 + options.timeoutMs,
      });
      return { output: result.output, exitCode: result.exit_code ?? (result.success ? 0 : 1) };
    },
    async screenshot(computerId: string): Promise<Screenshot> {
      const { image } = await call({ method: 'GET', path: `/computers/${id(computerId)}/screenshot`, operation: 'GET /computers/{id}/screenshot', schema: screenshotSchema });
      return image.startsWith('data:') ? { kind: 'data', dataUrl: image } : { kind: 'url', url: image };
    },
  };

  return { workspaces, computers };
};

export type OrgoClient = ReturnType<typeof createOrgoClient>;

export const classifyOrgoError = (error: unknown): VmFailure => {
  if (!isAppError(error)) return 'transient';
  switch (error.code) {
    case ORGO_ERRORS.unauthorized:
      return 'unauthorized';
    case ORGO_ERRORS.notFound:
      return 'gone';
    case ORGO_ERRORS.rejected:
    case ORGO_ERRORS.methodNotAllowed:
      return 'fatal';
    // not the computer: the workspace. Tried again with backoff (found by name, it is made again; a wrong
    // ORGO_WORKSPACE_ID stops the process at start-up, and one deleted later fails readiness and the job
    // at its deadline, the log saying which)
    case ORGO_ERRORS.workspaceNotFound:
      return 'transient';
    default:
      return 'transient';
  }
};

const vmOf = (c: Computer): Vm => ({ id: c.id, name: c.name, status: c.status, url: c.url, createdAt: c.created_at });

/** Told whether the workspace was there at each call within it (a readiness check follows it). */
export interface WorkspaceWatch {
  /** A 404 of the workspace itself: `error` says which, and what to check. */
  missing(error: Error): void;
  /** A call within the workspace succeeded. */
  found(): void;
}

/**
 * The client as the VmProvider port, bound to one workspace: its id, or a function that finds it
 * (called on first use and again after a failure, so a process can start while Orgo is away).
 */
export const orgoVmProvider = (client: OrgoClient, workspace: string | (() => Promise<string>), watch?: WorkspaceWatch): VmProvider => {
  let known: Promise<string> | undefined = typeof workspace === 'string' ? Promise.resolve(workspace) : undefined;
  const workspaceId = () =>
    (known ??= (workspace as () => Promise<string>)().catch((error: unknown) => {
      known = undefined;
      throw error;
    }));
  /** A call within the workspace: there a 404 means the workspace is gone (deleted, or a wrong ORGO_WORKSPACE_ID), not a computer. */
  const inWorkspace = async <T>(work: (id: string) => Promise<T>): Promise<T> => {
    const current = await workspaceId();
    let result: T;
    try {
      result = await work(current);
    } catch (error) {
      if (!hasCode(error, ORGO_ERRORS.notFound)) throw error;
      const byName = typeof workspace !== 'string';
      if (byName) known = undefined;
      const missing = orgoWorkspaceNotFound(current, byName, error);
      watch?.missing(missing);
      throw missing;
    }
    watch?.found();
    return result;
  };
  return {
    create: (name, size) => inWorkspace(async (ws) => vmOf(await client.computers.create(ws, name, size))),
    get: async (computerId) => vmOf(await client.computers.get(computerId)),
    findByName: async (name) => {
      try {
        const found = await inWorkspace((ws) => client.computers.findByName(ws, name));
        return found ? vmOf(found) : undefined;
      } catch (error) {
        // no workspace, no computer of that name in it (a deletion by name is then done; a create fails on its own)
        if (hasCode(error, ORGO_ERRORS.workspaceNotFound)) return undefined;
        throw error;
      }
    },
    // a missing workspace fails the listing: reconciliation must not take it for a workspace with no computers
    list: async () => (await inWorkspace((ws) => client.computers.list(ws))).map(vmOf),
    remove: async (computerId) => {
      try {
        await client.computers.delete(computerId);
      } catch (error) {
        if (!hasCode(error, ORGO_ERRORS.notFound)) throw error;
      }
    },
    start: async (computerId) => void (await client.computers.start(computerId)),
    bash: (computerId, command, timeoutSeconds) => client.computers.bash(computerId, command, timeoutSeconds),
    screenshot: (computerId): Promise<VmScreenshot> => client.computers.screenshot(computerId),
    classify: classifyOrgoError,
  };
};
