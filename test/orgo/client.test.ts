import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgoClient, orgoVmProvider } from '../../adapters/orgo/client.ts';
import type { OrgoClient } from '../../adapters/orgo/client.ts';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { AppError } from '../../domain/shared/errors.ts';

const failure = async (promise: Promise<unknown>): Promise<AppError> => {
  try {
    await promise;
  } catch (error) {
    return error as AppError;
  }
  throw new Error('expected a failure');
};


describe('Orgo client against the simulated Orgo', () => {
  let sim: OrgoSimulator;
  let orgo: OrgoClient;
  const waited: number[] = [];
  let clock = 1_000_000;
  const later = (ms: number) => void (clock += ms);
  beforeAll(async () => {
    sim = await startOrgoSimulator({ delays: { creatingMs: 30, startingMs: 30, stoppingMs: 30, deletingMs: 30, bashMs: 0, slowCommands: [] }, now: () => clock });
    orgo = createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, sleep: async (ms) => void waited.push(ms) });
  });
  afterAll(() => sim.close());

  it('creates a computer that goes creating → starting → running, lists it, finds it by name and deletes it', async () => {
    const created = await orgo.computers.create(sim.workspaceId, 'ocs-life', { cpu: 4, ramGb: 8 });
    expect(created).toMatchObject({ name: 'ocs-life', status: 'creating', cpu: 4, ram: 8, workspace_id: sim.workspaceId });
    later(30);
    expect((await orgo.computers.get(created.id)).status).toBe('starting');
    later(30);
    expect((await orgo.computers.get(created.id)).status).toBe('running');
    expect((await orgo.computers.list(sim.workspaceId)).map((c) => c.name)).toContain('ocs-life');
    expect((await orgo.computers.findByName(sim.workspaceId, 'ocs-life'))?.id).toBe(created.id);
    expect(await orgo.computers.findByName(sim.workspaceId, 'ocs-nobody')).toBeUndefined();
    await orgo.computers.delete(created.id);
    expect((await orgo.computers.get(created.id)).status).toBe('deleting');
    later(30);
    expect(await orgo.computers.findByName(sim.workspaceId, 'ocs-life')).toBeUndefined();
    expect((await failure(orgo.computers.get(created.id))).code).toBe('orgo_not_found');
    const vms = orgoVmProvider(orgo, sim.workspaceId);
    await expect(vms.remove(created.id)).resolves.toBeUndefined(); // already gone is fine
  });

  it('stops and starts a computer, and falls back to stop + start where restart answers 405', async () => {
    const old = await startOrgoSimulator({ delays: 'none', legacyRestart: true, listKey: 'computers' });
    try {
      const client = createOrgoClient({ baseUrl: old.url, apiKey: old.apiKey, timeoutMs: 2_000 });
      const c = await client.computers.create(old.workspaceId, 'ocs-power', { cpu: 1, ramGb: 4 });
      expect(await client.computers.stop(c.id)).toMatchObject({ success: true, status: 'stopping' });
      expect((await client.computers.get(c.id)).status).toBe('stopped');
      expect(await client.computers.restart(c.id)).toMatchObject({ success: true, status: 'starting' });
      expect((await client.computers.get(c.id)).status).toBe('running');
      expect(old.calls('stop')).toBe(2);
      expect((await client.computers.findByName(old.workspaceId, 'ocs-power'))?.id).toBe(c.id); // listed as `computers`
    } finally {
      await old.close();
    }
  });

  it('runs bash and reports the exit code, not just success; a computer that is not running answers orgo_not_available', async () => {
    const c = await orgo.computers.create(sim.workspaceId, 'ocs-bash', { cpu: 1, ramGb: 4 });
    expect((await failure(orgo.computers.bash(c.id, 'true'))).code).toBe('orgo_not_available');
    later(60);
    sim.script({ pattern: /^exit 3$/, exitCode: 3, output: 'three' });
    expect(await orgo.computers.bash(c.id, 'exit 3')).toEqual({ output: 'three', exitCode: 3 });
    expect(await orgo.computers.bash(c.id, "echo 'hi; rm -rf /'")).toEqual({ output: '', exitCode: 0 });
    expect(sim.commands().at(-1)).toMatchObject({ computerId: c.id, command: "echo 'hi; rm -rf /'" });
  });

  it('accepts both documented screenshot shapes', async () => {
    const c = await orgo.computers.create(sim.workspaceId, 'ocs-shot', { cpu: 1, ramGb: 4 });
    later(60);
    expect(await orgo.computers.screenshot(c.id)).toMatchObject({ kind: 'data', dataUrl: expect.stringMatching(/^data:image\/png;base64,/) });
    const linked = await startOrgoSimulator({ delays: 'none', screenshots: 'url' });
    try {
      const client = createOrgoClient({ baseUrl: linked.url, apiKey: linked.apiKey, timeoutMs: 2_000 });
      const d = await client.computers.create(linked.workspaceId, 'ocs-shot', { cpu: 1, ramGb: 4 });
      expect(await client.computers.screenshot(d.id)).toEqual({ kind: 'url', url: `https://screenshots.orgo.test/${d.id}.png` });
    } finally {
      await linked.close();
    }
  });

  it('refuses a taken name with orgo_wrong_state, so a repeated create never makes a second computer', async () => {
    await orgo.computers.create(sim.workspaceId, 'ocs-once', { cpu: 1, ramGb: 4 });
    expect((await failure(orgo.computers.create(sim.workspaceId, 'ocs-once', { cpu: 1, ramGb: 4 }))).code).toBe('orgo_wrong_state');
    expect(sim.computers().filter((c) => c.name === 'ocs-once')).toHaveLength(1);
  });

  it('retries 503 after 1 s, 2 s and 4 s, then gives up with orgo_unreachable', async () => {
    waited.length = 0;
    sim.fail({ op: 'workspaces', status: 503, times: 2, error: 'Could not reach the desktop' });
    expect((await orgo.workspaces.list()).map((w) => w.id)).toContain(sim.workspaceId);
    expect(waited).toEqual([1_000, 2_000]);
    waited.length = 0;
    sim.fail({ op: 'workspaces', status: 503, times: 4 });
    const error = await failure(orgo.workspaces.list());
    expect(error.code).toBe('orgo_unreachable');
    expect(waited).toEqual([1_000, 2_000, 4_000]);
  });

  it('maps statuses to typed errors: 401 and 403 (workspace_scope_mismatch) are orgo_unauthorized, 409 wrong state, 500 failed', async () => {
    const stranger = createOrgoClient({ baseUrl: sim.url, apiKey: 'sk_live_not_a_key_at_all', timeoutMs: 2_000 });
    const denied = await failure(stranger.workspaces.list());
    expect(denied).toMatchObject({ code: 'orgo_unauthorized', details: { status: 401 } });
    expect(denied.message).toMatch(/check ORGO_API_KEY/);
    const other = sim.addWorkspace('someone-else');
    sim.addKey('sk_live_scoped_key_123', { workspaceId: other.id });
    const scoped = createOrgoClient({ baseUrl: sim.url, apiKey: 'sk_live_scoped_key_123', timeoutMs: 2_000 });
    const mismatch = await failure(scoped.computers.list(sim.workspaceId));
    expect(mismatch).toMatchObject({ code: 'orgo_unauthorized', details: { status: 403, upstreamCode: 'workspace_scope_mismatch' } });
    expect(mismatch.message).toMatch(/ORGO_WORKSPACE_ID/);
    expect(await scoped.computers.list(other.id)).toEqual([]);
    const c = await orgo.computers.create(sim.workspaceId, 'ocs-faulty', { cpu: 1, ramGb: 4 });
    sim.fail({ op: 'start', status: 409 });
    expect((await failure(orgo.computers.start(c.id))).code).toBe('orgo_wrong_state');
    sim.fail({ op: 'get', status: 500 });
    expect((await failure(orgo.computers.get(c.id))).code).toBe('orgo_failed');
    const vms = orgoVmProvider(orgo, sim.workspaceId);
    expect([denied, mismatch].map((e) => vms.classify(e))).toEqual(['unauthorized', 'unauthorized']);
    expect(vms.classify(await failure(orgo.computers.get('nope')))).toBe('gone');
  });

  it('never puts the key in an error, even when the server echoes it', async () => {
    sim.fail({ op: 'workspaces', status: 500, error: `bad key ${sim.apiKey} refused` });
    const error = await failure(orgo.workspaces.list());
    expect(error.message).toContain('[redacted]');
    expect(JSON.stringify({ message: error.message, details: error.details, stack: error.stack })).not.toContain(sim.apiKey);
    const refused = createOrgoClient({ baseUrl: 'http://127.0.0.1:1/api', apiKey: sim.apiKey, timeoutMs: 500, retryDelaysMs: [0] });
    const down = await failure(refused.workspaces.list());
    expect(down.code).toBe('orgo_unreachable');
    expect(JSON.stringify({ message: down.message, details: down.details })).not.toContain(sim.apiKey);
  });

  it('times out a create whose answer never comes; the computer is then found by name, not created again', async () => {
    const impatient = createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 200 });
    sim.timeoutAfterCreate(1, /ocs-lost/);
    const error = await failure(impatient.computers.create(sim.workspaceId, 'ocs-lost', { cpu: 1, ramGb: 4 }));
    expect(error.code).toBe('orgo_timeout');
    const found = await impatient.computers.findByName(sim.workspaceId, 'ocs-lost');
    expect(found?.name).toBe('ocs-lost');
    expect(sim.computers().filter((c) => c.name === 'ocs-lost')).toHaveLength(1);
  });

  it('reads a computer in a status Orgo added since as unknown (logged once), and the rest of the listing still reads', async () => {
    const warnings: { details: Record<string, unknown>; message: string }[] = [];
    const logged = createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, log: { warn: (details, message) => void warnings.push({ details, message }) } });
    const odd = await logged.computers.create(sim.workspaceId, 'ocs-odd', { cpu: 1, ramGb: 4 });
    const plain = await logged.computers.create(sim.workspaceId, 'ocs-plain', { cpu: 1, ramGb: 4 });
    later(60);
    sim.reportStatus(odd.id, 'hibernating');
    try {
      const listed = await logged.computers.list(sim.workspaceId);
      expect(listed.find((c) => c.id === odd.id)).toMatchObject({ status: 'unknown', reported_status: 'hibernating' });
      expect(listed.find((c) => c.id === plain.id)?.status).toBe('running');
      expect((await logged.computers.get(odd.id)).status).toBe('unknown');
      expect((await logged.computers.findByName(sim.workspaceId, 'ocs-odd'))?.status).toBe('unknown');
      const vms = orgoVmProvider(logged, sim.workspaceId);
      expect((await vms.list()).find((vm) => vm.id === odd.id)?.status).toBe('unknown');
      expect(warnings).toHaveLength(1); // once per status, however often it is seen
      expect(warnings[0]).toMatchObject({ details: { status: 'hibernating' }, message: expect.stringMatching(/does not know/) });
    } finally {
      sim.reportStatus(odd.id, undefined);
    }
  });

  it('a workspace that no longer exists: nothing is found in it, listing it fails as retryable, one found by name is made again', async () => {
    const fixed = sim.addWorkspace('deleted-behind-our-back');
    const byId = orgoVmProvider(orgo, fixed.id);
    sim.deleteWorkspace(fixed.id);
    expect(await byId.findByName('ocs-k-acme.k-1')).toBeUndefined(); // a deletion by name is then done
    const listing = await failure(byId.list()); // never taken for a workspace with no computers
    expect(listing).toMatchObject({ code: 'orgo_workspace_not_found' });
    expect(byId.classify(listing)).toBe('transient');
    const creating = await failure(byId.create('ocs-k-acme.k-1', { cpu: 1, ramGb: 4 }));
    expect(creating.code).toBe('orgo_workspace_not_found');
    expect(creating.message).toMatch(/check ORGO_WORKSPACE_ID/);
    expect(byId.classify(creating)).toBe('transient');

    const byName = orgoVmProvider(orgo, async () => (await orgo.workspaces.ensure('platform-by-name')).id);
    const first = await byName.create('ocs-k-acme.k-2', { cpu: 1, ramGb: 4 });
    const original = sim.workspaces().find((w) => w.name === 'platform-by-name')!;
    sim.deleteWorkspace(original.id);
    expect(byName.classify(await failure(byName.list()))).toBe('transient');
    const second = await byName.create('ocs-k-acme.k-2', { cpu: 1, ramGb: 4 }); // in a workspace made again by that name
    expect(second.id).not.toBe(first.id);
    expect(sim.workspaces().filter((w) => w.name === 'platform-by-name').map((w) => w.id)).toEqual([expect.not.stringMatching(original.id)]);
  });

  it('a computer deleted between the workspace listing and its own read is left out; the listing and the workspace stand', async () => {
    const bare = await startOrgoSimulator({ delays: 'none', listedStatus: false });
    try {
      const client = createOrgoClient({ baseUrl: bare.url, apiKey: bare.apiKey, timeoutMs: 2_000 });
      const [a, b, c] = ['ocs-k-a', 'ocs-k-b', 'ocs-k-c'].map((name) => bare.createComputer(name));
      let elections = 0;
      const byId = orgoVmProvider(client, bare.workspaceId);
      const byName = orgoVmProvider(client, async () => (elections++, bare.workspaceId));
      bare.deleteAfterNextListing(b!.id);
      expect((await byId.list()).map((vm) => vm.name).sort()).toEqual(['ocs-k-a', 'ocs-k-c']); // before: orgo_workspace_not_found
      expect(bare.computers().map((x) => x.id)).not.toContain(b!.id);
      bare.deleteAfterNextListing(c!.id);
      expect((await byName.list()).map((vm) => vm.id)).toEqual([a!.id]);
      bare.deleteAfterNextListing(a!.id);
      expect(await byName.findByName('ocs-k-a')).toBeUndefined(); // gone, not a missing workspace
      expect((await byName.list())).toEqual([]);
      expect(elections).toBe(1); // the workspace was never taken for missing (no look-up again)
      bare.deleteWorkspace(bare.workspaceId); // a real 404 of the workspace still fails the listing
      expect((await failure(byId.list())).code).toBe('orgo_workspace_not_found');
    } finally {
      await bare.close();
    }
  });

  it('a workspace deleted between its listing and the reads of its computers fails the listing as a missing workspace, never reads as empty', async () => {
    const bare = await startOrgoSimulator({ delays: 'none', listedStatus: false });
    try {
      const client = createOrgoClient({ baseUrl: bare.url, apiKey: bare.apiKey, timeoutMs: 2_000 });
      const watched: string[] = [];
      const vms = orgoVmProvider(client, bare.workspaceId, { missing: () => void watched.push('missing'), found: () => void watched.push('found') });
      const platform = bare.addWorkspace('platform-deleted');
      for (const name of ['ocs-k-a', 'ocs-k-b']) bare.createComputer(name, platform.id);
      bare.createComputer('ocs-k-c');
      bare.deleteWorkspaceAfterNextListing(platform.id);
      // before: each computer's own read answered 404, each was left out, and the listing was [] (all knights lost)
      expect((await failure(client.computers.list(platform.id))).code).toBe('orgo_not_found');
      bare.deleteWorkspaceAfterNextListing(bare.workspaceId);
      expect((await failure(vms.list())).code).toBe('orgo_workspace_not_found');
      expect(watched).toEqual(['missing']); // readiness is told, not that the workspace was found
    } finally {
      await bare.close();
    }
  });

  it('a workspace deleted between a look-up by name and the read of the computer found: the look-up fails as a missing workspace', async () => {
    const bare = await startOrgoSimulator({ delays: 'none', listedStatus: false });
    try {
      const client = createOrgoClient({ baseUrl: bare.url, apiKey: bare.apiKey, timeoutMs: 2_000 });
      bare.createComputer('ocs-k-a');
      bare.deleteWorkspaceAfterNextListing(bare.workspaceId);
      expect((await failure(client.computers.findByName(bare.workspaceId, 'ocs-k-a'))).code).toBe('orgo_not_found'); // before: undefined
    } finally {
      await bare.close();
    }
  });

  it('finds or creates the platform workspace by name', async () => {
    const first = await orgo.workspaces.ensure('platform-two');
    const again = await orgo.workspaces.ensure('platform-two');
    expect(again.id).toBe(first.id);
    await orgo.workspaces.delete(first.id);
    expect((await orgo.workspaces.list()).map((w) => w.name)).not.toContain('platform-two');
  });

  it('processes starting at once, none finding the workspace, all end up using one of that name; the extras are deleted', async () => {
    const processes = Array.from({ length: 5 }, () => createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, workspaceSettleMs: 300 }));
    const chosen = await Promise.all(processes.map((p) => p.workspaces.ensure('platform-at-once')));
    const mine = sim.workspaces().filter((w) => w.name === 'platform-at-once');
    expect(mine).toHaveLength(1); // before: each process made its own
    expect(new Set(chosen.map((w) => w.id))).toEqual(new Set([mine[0]!.id]));
    expect((await processes[0]!.workspaces.ensure('platform-at-once')).id).toBe(mine[0]!.id);
  });

  it('two workspaces of the name with the same created_at: every client elects the same one, whichever it saw first', async () => {
    const at = '2026-03-01T12:00:00.000000Z';
    const clientOf = (sleep: (ms: number) => Promise<void> = async () => undefined) =>
      createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, sleep });
    sim.addWorkspace('platform-tied', { at, id: 'ws-tie-b' });
    // a process lists while only one is visible; the other, made at the very same time, appears meanwhile
    let shown = false;
    const early = clientOf(async () => {
      if (!shown) sim.addWorkspace('platform-tied', { at, id: 'ws-tie-a' });
      shown = true;
    });
    const elected = [await early.workspaces.ensure('platform-tied')];
    for (let i = 0; i < 3; i++) elected.push(await clientOf().workspaces.ensure('platform-tied'));
    expect(new Set(elected.map((w) => w.id))).toEqual(new Set(['ws-tie-a'])); // before: the early one kept ws-tie-b
    // the order is total: the listing's order does not matter
    sim.addWorkspace('platform-tied-too', { at, id: 'ws-tie-z' });
    sim.addWorkspace('platform-tied-too', { at, id: 'ws-tie-y' });
    const again = await Promise.all(Array.from({ length: 3 }, () => clientOf().workspaces.ensure('platform-tied-too')));
    expect(again.map((w) => w.id)).toEqual(['ws-tie-y', 'ws-tie-y', 'ws-tie-y']);
  });

  it('a duplicate workspace that another process already put computers in is kept, not deleted with them', async () => {
    // both make one; while they wait, a third process, which listed when only one of them was there, puts a computer in each
    let entered = 0;
    let both!: () => void;
    const bothMade = new Promise<void>((resolve) => (both = resolve));
    const sleep = async () => {
      if (++entered === 2) {
        for (const w of sim.workspaces().filter((x) => x.name === 'platform-in-use')) sim.createComputer(`ocs-in-${w.id}`, w.id);
        both();
      }
      await bothMade;
    };
    const processes = Array.from({ length: 2 }, () => createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, sleep }));
    const chosen = await Promise.all(processes.map((p) => p.workspaces.ensure('platform-in-use')));
    expect(chosen[0]!.id).toBe(chosen[1]!.id); // both still agree
    const named = sim.workspaces().filter((w) => w.name === 'platform-in-use');
    expect(named).toHaveLength(2); // before: the loser was deleted, and the computer in it
    expect(sim.computers().filter((c) => c.name.startsWith('ocs-in-'))).toHaveLength(2);
  });
});
