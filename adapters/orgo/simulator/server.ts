import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFaults } from './faults.ts';
import type { ScriptedCommand, SimOperation, StatusFault } from './faults.ts';
import { createWorld, DOCUMENTED_DELAYS, NO_DELAYS } from './world.ts';
import type { SimComputer, SimDelays, WorldState } from './world.ts';

export interface SimulatorOptions {
  /** `documented` (the default), `none` for benchmarks, or your own. */
  readonly delays?: 'documented' | 'none' | Partial<SimDelays>;
  /** The account-wide key; a random `sk_live_sim_…` when omitted. */
  readonly apiKey?: string;
  /** The workspace made at start (the one the platform uses). */
  readonly workspaceName?: string;
  /** Screenshots as a data URL (the default) or as an https link: both are documented. */
  readonly screenshots?: 'data' | 'url';
  /** Workspace listings name computers `desktops` (newer hosts, the default) or `computers`. */
  readonly listKey?: 'desktops' | 'computers';
  /**
   * Workspace listings give each computer's `status` (the default) or only its id and name, so the
   * client reads each computer on its own (`GET /computers/{id}`): Orgo documents no fields for them.
   */
  readonly listedStatus?: boolean;
  /** Answer 405 to restart, like old hosts. */
  readonly legacyRestart?: boolean;
  readonly port?: number;
  /** The simulator's clock (epoch ms); tests step it to see every state. */
  readonly now?: () => number;
  /**
   * A JSON file that keeps the workspaces and computers across restarts (the embedded default's
   * DATA_DIR/orgo-simulator.json), so knights and agent VMs the log says exist are still there.
   * Without it the inventory lives in memory only.
   */
  readonly stateFile?: string;
}

/** The saved inventory, or none when the file does not exist yet. */
const loadState = (file: string): WorldState | undefined => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const state = JSON.parse(text) as Partial<WorldState>;
    if (!Array.isArray(state.workspaces) || !Array.isArray(state.computers)) throw new Error('expected { workspaces, computers }');
    return state as WorldState;
  } catch (error) {
    throw new Error(`the simulated Orgo's state file ${file} is not readable (${(error as Error).message}): remove it to start with no computers`);
  }
};

/** Written whole to a temporary file and renamed over the old one: a crash leaves one or the other, never half. */
const saveState = (file: string, state: WorldState) => {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
  renameSync(temporary, file);
};

export interface RecordedCommand {
  readonly computerId: string;
  readonly computerName: string;
  readonly command: string;
  readonly exitCode: number;
}

/** A 1×1 PNG: screenshots are small and harmless. */
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

class Reply extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>) {
    super(String(body.error ?? status));
  }
}

const problem = (status: number, error: string, code?: string) =>
  new Reply(status, { error, request_id: `req_${randomBytes(6).toString('hex')}`, ...(code ? { code } : {}) });

const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    throw problem(400, 'invalid JSON body');
  }
};

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/**
 * A simulated Orgo on loopback, following the documented shapes and state transitions. It never
 * executes anything: `bash` records the exact command string and answers from scripts (exit 0 and
 * no output otherwise). The embedded default runs it when ORGO_API_KEY is unset; tests drive its
 * faults and read its inventory and command log.
 */
export const startOrgoSimulator = async (options: SimulatorOptions = {}) => {
  const delays: SimDelays =
    options.delays === 'none' ? NO_DELAYS : options.delays === undefined || options.delays === 'documented' ? DOCUMENTED_DELAYS : { ...DOCUMENTED_DELAYS, ...options.delays };
  const { stateFile } = options;
  const world = createWorld(delays, options.now, stateFile ? loadState(stateFile) : undefined, () => {
    if (stateFile) saveState(stateFile, world.state());
  });
  const faults = createFaults();
  const apiKey = options.apiKey ?? `sk_live_sim_${randomBytes(16).toString('hex')}`;
  const keys = new Map<string, { workspaceId?: string }>([[apiKey, {}]]);
  const workspaceName = options.workspaceName ?? 'openclaw-service';
  // a saved inventory keeps its workspace (the platform's computers are in it): of several of that name, the
  // oldest by created_at then id, as the client elects (not the order the file happens to list them in)
  const workspace =
    world
      .workspaces()
      .filter((w) => w.name === workspaceName)
      .sort((a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0] ??
    world.addWorkspace(workspaceName);
  const commands: RecordedCommand[] = [];
  const calls = new Map<SimOperation, number>();
  let refusals = 0;
  let requests = 0;
  const held = new Set<ServerResponse>();
  /** Statuses reported in place of the real one, e.g. one Orgo added after the client was written. */
  const reported = new Map<string, string>();
  /** Test affordance: computers deleted right after the next workspace read is answered (see `deleteAfterNextListing`). */
  const deleteAfterListing = new Set<string>();
  /** Test affordance: workspaces deleted (with their computers) right after their next listing is answered. */
  const deleteWorkspaceAfterListing = new Set<string>();

  const computerJson = (c: SimComputer) => ({
    id: c.id,
    name: c.name,
    workspace_id: c.workspaceId,
    os: 'linux',
    ram: c.ram,
    cpu: c.cpu,
    disk_size_gb: c.diskSizeGb,
    status: reported.get(c.id) ?? world.advance(c).status,
    url: `https://www.orgo.ai/desktops/${c.instanceId}`,
    created_at: c.createdAt,
    instance_id: c.instanceId,
    hostname: `${c.instanceId}.desktops.orgo.test`,
    connection_url: `wss://www.orgo.ai/desktops/${c.instanceId}/vnc`,
    vnc_password: 'simulated',
  });
  const workspaceJson = (id: string) => {
    const w = world.workspace(id)!;
    const list = world.computersOf(id).map((c) =>
      options.listedStatus === false ? { id: c.id, name: c.name, workspace_id: c.workspaceId } : computerJson(c),
    );
    return { id: w.id, name: w.name, created_at: w.createdAt, computer_count: list.length, [options.listKey ?? 'desktops']: list };
  };

  const authorize = (req: IncomingMessage) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const scope = m ? keys.get(m[1]!) : undefined;
    if (!scope) {
      refusals++;
      throw problem(401, 'Invalid or missing API key');
    }
    return (workspaceId: string) => {
      if (scope.workspaceId && scope.workspaceId !== workspaceId) {
        refusals++;
        throw problem(403, 'This API key is scoped to another workspace', 'workspace_scope_mismatch');
      }
    };
  };

  const fault = (op: SimOperation, name?: string) => {
    calls.set(op, (calls.get(op) ?? 0) + 1);
    const f: StatusFault | undefined = faults.takeStatus(op, name);
    if (f) throw problem(f.status, f.error ?? `simulated ${f.status}`, f.code);
  };

  const running = (c: SimComputer) => {
    if (world.advance(c).status !== 'running') throw problem(400, `instance not available (${c.status})`);
  };

  const route = async (req: IncomingMessage): Promise<{ status?: number; body: unknown } | 'held'> => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname.replace(/^\/api/, '').replace(/^\/projects/, '/workspaces').replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const scoped = authorize(req);
    if (path === '/workspaces') {
      fault('workspaces');
      if (method === 'GET') return { body: { workspaces: world.workspaces().map((w) => workspaceJson(w.id)) } };
      if (method === 'POST') {
        const body = await readBody(req);
        if (typeof body.name !== 'string' || body.name === '') throw problem(400, 'name is required');
        return { status: 201, body: workspaceJson(world.addWorkspace(body.name).id) };
      }
    }
    const ws = /^\/workspaces\/([^/]+)$/.exec(path);
    if (ws) {
      const id = decodeURIComponent(ws[1]!);
      if (!world.workspace(id)) throw problem(404, 'workspace not found');
      scoped(id);
      fault(method === 'GET' ? 'list' : 'workspaces');
      if (method === 'GET') {
        const body = workspaceJson(id);
        for (const gone of deleteAfterListing) {
          if (world.computer(gone)?.workspaceId !== id) continue;
          world.vanish(gone);
          deleteAfterListing.delete(gone);
        }
        if (deleteWorkspaceAfterListing.delete(id)) world.deleteWorkspace(id);
        return { body };
      }
      if (method === 'DELETE') return (world.deleteWorkspace(id), { body: { success: true } });
    }
    if (path === '/computers' && method === 'POST') {
      const body = await readBody(req);
      const workspaceId = String(body.workspace_id ?? '');
      const name = typeof body.name === 'string' ? body.name : '';
      if (!world.workspace(workspaceId)) throw problem(404, 'workspace not found');
      scoped(workspaceId);
      fault('create', name);
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw problem(400, 'name is required (letters, digits, . _ -)');
      if (world.byName(workspaceId, name)) throw problem(409, `a computer named ${name} already exists in this workspace`);
      const spec = { name, cpu: Number(body.cpu ?? 2), ram: Number(body.ram ?? 4), diskSizeGb: Number(body.disk_size_gb ?? 20) };
      const c = world.create(workspaceId, spec, faults.bootsTo(name));
      if (faults.takeSilentCreate(name)) return 'held';
      return { status: 201, body: computerJson(c) };
    }
    const cm = /^\/computers\/([^/]+)(?:\/([a-z-]+))?$/.exec(path);
    if (!cm) throw problem(404, `no route ${method} ${url.pathname}`);
    const c = world.computer(decodeURIComponent(cm[1]!));
    const action = cm[2];
    if (!c) throw problem(404, 'computer not found');
    scoped(c.workspaceId);
    if (!action && method === 'GET') return (fault('get', c.name), { body: computerJson(c) });
    if (!action && method === 'DELETE') {
      fault('delete', c.name);
      if (c.status !== 'deleting') world.move(c, 'deleting');
      return { body: { success: true } };
    }
    if (method === 'POST' && (action === 'start' || action === 'stop' || action === 'restart')) {
      fault(action, c.name);
      if (action === 'restart' && options.legacyRestart) throw problem(405, 'method not allowed');
      if (c.status === 'deleting' || c.status === 'creating') throw problem(409, `cannot ${action} while ${c.status}`);
      if (action === 'start' && c.status !== 'running' && c.status !== 'starting') world.move(c, 'starting');
      if (action === 'stop' && c.status !== 'stopped' && c.status !== 'stopping') world.move(c, 'stopping');
      if (action === 'restart') world.move(c, 'restarting');
      return { body: { success: true, status: { start: 'starting', stop: 'stopping', restart: 'restarting' }[action] } };
    }
    if (action === 'bash' && method === 'POST') {
      fault('bash', c.name);
      running(c);
      const body = await readBody(req);
      if (typeof body.command !== 'string') throw problem(400, 'command is required');
      const command = body.command;
      const script: ScriptedCommand | undefined = faults.scripted(command);
      const slow = delays.slowCommands.find((s) => s.pattern.test(command));
      await sleep(script?.delayMs ?? slow?.ms ?? delays.bashMs);
      const exitCode = script?.exitCode ?? 0;
      commands.push({ computerId: c.id, computerName: c.name, command, exitCode });
      return { body: { success: true, action: 'bash', command, output: script?.output ?? '', exit_code: exitCode } };
    }
    if (action === 'exec' && method === 'POST') {
      fault('any', c.name);
      running(c);
      const body = await readBody(req);
      return { body: { success: true, action: 'exec', output: '', timeout: Number(body.timeout ?? 10) } };
    }
    if (action === 'screenshot' && method === 'GET') {
      fault('screenshot', c.name);
      running(c);
      return options.screenshots === 'url'
        ? { body: { success: true, image: `https://screenshots.orgo.test/${c.id}.png`, metadata: { width: 1280, height: 720 } } }
        : { body: { image: `data:image/png;base64,${PIXEL}` } };
    }
    if (action === 'auto-stop') return { body: { auto_stop_minutes: 0 } };
    throw problem(404, `no route ${method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    requests++;
    route(req).then(
      (reply) => {
        if (reply === 'held') {
          held.add(res); // accepted, never answered: the client's timeout is the only way out
          res.on('close', () => held.delete(res));
          return;
        }
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      },
      (error: unknown) => {
        const reply = error instanceof Reply ? error : problem(500, 'simulated desktop agent failure');
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api`,
    apiKey,
    workspaceId: workspace.id,
    delays,
    /** A key limited to one workspace (403 `workspace_scope_mismatch` elsewhere). */
    addKey(key: string, scope: { workspaceId?: string } = {}) {
      keys.set(key, scope);
    },
    revokeKey: (key: string) => void keys.delete(key),
    /** `at`: the workspace's created_at and `id` its id, for tests of ties (the clock's and a random one otherwise). */
    addWorkspace: (name: string, made: { at?: string; id?: string } = {}) => world.addWorkspace(name, made.id, made.at),
    /** Deletes a workspace and its computers, as if done behind the platform's back. */
    deleteWorkspace: (id: string) => world.deleteWorkspace(id),
    /** Workspaces that exist now. */
    workspaces: () => world.workspaces().map((w) => ({ id: w.id, name: w.name, created_at: w.createdAt })),
    /** Every request received, answered or not. */
    requests: () => requests,
    /** Computers that exist now (deleted ones are gone), with their current status. */
    computers: () => world.all().map(computerJson),
    /** A computer made outside the platform, e.g. a customer's own. */
    createComputer: (name: string, workspaceId = workspace.id) => computerJson(world.create(workspaceId, { name, cpu: 2, ram: 4, diskSizeGb: 20 }, 'running')),
    /** Every bash command received, in order, exactly as sent. */
    commands: (): readonly RecordedCommand[] => commands,
    calls: (op: SimOperation) => calls.get(op) ?? 0,
    /** Requests refused with 401 or 403. */
    refusals: () => refusals,
    fail: (fault: StatusFault) => faults.fail(fault),
    timeoutAfterCreate: (times = 1, name?: RegExp) => faults.timeoutAfterCreate(times, name),
    endInError: (name: RegExp) => faults.endInError(name),
    script: (command: ScriptedCommand) => faults.script(command),
    clearFaults: () => faults.clear(),
    /** Makes a computer vanish, as if deleted behind the platform's back. */
    vanish: (id: string) => world.vanish(id),
    /**
     * Test affordance (no Orgo behaviour of its own): the computer is still in the next listing of its
     * workspace and deleted right after that answer, as if deleted between a client's listing and its
     * read of that computer (which then answers 404). Use with `listedStatus: false`.
     */
    deleteAfterNextListing: (id: string) => void deleteAfterListing.add(id),
    /**
     * Test affordance: the workspace answers its next listing and is deleted right after, with its
     * computers, as if deleted between a client's listing and its reads of the computers listed (each
     * then answers 404). Use with `listedStatus: false`.
     */
    deleteWorkspaceAfterNextListing: (id: string) => void deleteWorkspaceAfterListing.add(id),
    /** Reports this status for the computer (e.g. one Orgo added since: `hibernating`); undefined reports the real one again. */
    reportStatus: (id: string, status: string | undefined) => void (status === undefined ? reported.delete(id) : reported.set(id, status)),
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

export type OrgoSimulator = Awaited<ReturnType<typeof startOrgoSimulator>>;
