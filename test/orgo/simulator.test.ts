import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgoClient } from '../../adapters/orgo/client.ts';
import type { OrgoClient } from '../../adapters/orgo/client.ts';
import { startOrgoSimulator } from '../../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../../adapters/orgo/simulator/server.ts';

describe('simulated Orgo', () => {
  let sim: OrgoSimulator;
  let orgo: OrgoClient;
  beforeAll(async () => {
    sim = await startOrgoSimulator({ delays: 'none' });
    orgo = createOrgoClient({ baseUrl: sim.url, apiKey: sim.apiKey, timeoutMs: 2_000, retryDelaysMs: [] });
  });
  afterAll(() => sim.close());

  it('keeps names unique per workspace, not across workspaces', async () => {
    const other = await orgo.workspaces.create('second');
    await orgo.computers.create(sim.workspaceId, 'same-name', { cpu: 1, ramGb: 4 });
    await expect(orgo.computers.create(other.id, 'same-name', { cpu: 1, ramGb: 4 })).resolves.toMatchObject({ workspace_id: other.id });
    await expect(orgo.computers.create(sim.workspaceId, 'same-name', { cpu: 1, ramGb: 4 })).rejects.toMatchObject({ code: 'orgo_wrong_state' });
  });

  it('boots a computer into error on demand, and a deleted one is gone with its name free again', async () => {
    sim.endInError(/^doomed/);
    const doomed = await orgo.computers.create(sim.workspaceId, 'doomed-1', { cpu: 1, ramGb: 4 });
    expect((await orgo.computers.get(doomed.id)).status).toBe('error');
    await orgo.computers.delete(doomed.id);
    expect(sim.computers().map((c) => c.name)).not.toContain('doomed-1');
    sim.clearFaults();
    await expect(orgo.computers.create(sim.workspaceId, 'doomed-1', { cpu: 1, ramGb: 4 })).resolves.toMatchObject({ status: 'running' });
  });

  it('records commands without running them, answers scripted ones, and refuses bash on a stopped computer', async () => {
    const c = await orgo.computers.create(sim.workspaceId, 'shell', { cpu: 1, ramGb: 4 });
    const marker = `/tmp/orgo-sim-must-not-exist-${Date.now()}`;
    expect(await orgo.computers.bash(c.id, `touch ${marker}`)).toEqual({ output: '', exitCode: 0 });
    const { existsSync } = await import('node:fs');
    expect(existsSync(marker)).toBe(false);
    sim.script({ pattern: /^whoami$/, exitCode: 0, output: 'user\n' });
    expect(await orgo.computers.bash(c.id, 'whoami')).toEqual({ output: 'user\n', exitCode: 0 });
    expect(sim.commands().slice(-2).map((r) => r.command)).toEqual([`touch ${marker}`, 'whoami']);
    await orgo.computers.stop(c.id);
    await expect(orgo.computers.bash(c.id, 'whoami')).rejects.toMatchObject({ code: 'orgo_not_available' });
    await orgo.computers.start(c.id);
    await expect(orgo.computers.bash(c.id, 'whoami')).resolves.toMatchObject({ exitCode: 0 });
  });

  it('injects 409 and 400 on demand, for a number of calls', async () => {
    const c = await orgo.computers.create(sim.workspaceId, 'faulty', { cpu: 1, ramGb: 4 });
    sim.fail({ op: 'bash', status: 400, times: 2, error: 'instance not available' });
    await expect(orgo.computers.bash(c.id, 'true')).rejects.toMatchObject({ code: 'orgo_not_available' });
    await expect(orgo.computers.bash(c.id, 'true')).rejects.toMatchObject({ code: 'orgo_not_available' });
    await expect(orgo.computers.bash(c.id, 'true')).resolves.toMatchObject({ exitCode: 0 });
    sim.fail({ op: 'delete', status: 409 });
    await expect(orgo.computers.delete(c.id)).rejects.toMatchObject({ code: 'orgo_wrong_state' });
    await expect(orgo.computers.delete(c.id)).resolves.toBeUndefined();
  });

  it('answers the deprecated /projects alias like /workspaces', async () => {
    const res = await fetch(`${sim.url}/projects`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { workspaces: { id: string }[] }).workspaces.map((w) => w.id)).toContain(sim.workspaceId);
  });
});

describe('simulated Orgo with a state file (the embedded default keeps its computers across restarts)', () => {
  /** Runs `use` with a state file path in a fresh folder, removed after. */
  const withStateFile = async (use: (stateFile: string) => Promise<void>) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'orgo-sim-'));
    try {
      await use(path.join(dir, 'orgo-simulator.json'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('a restarted simulator still has the workspace and the computers, with their ids and states; deleted ones stay gone', () =>
    withStateFile(async (stateFile) => {
      const first = await startOrgoSimulator({ delays: 'none', stateFile });
      const client1 = createOrgoClient({ baseUrl: first.url, apiKey: first.apiKey, timeoutMs: 2_000, retryDelaysMs: [] });
      const kept = await client1.computers.create(first.workspaceId, 'knight-kept', { cpu: 2, ramGb: 4 });
      const stopped = await client1.computers.create(first.workspaceId, 'knight-stopped', { cpu: 1, ramGb: 4 });
      await client1.computers.stop(stopped.id);
      const deleted = await client1.computers.create(first.workspaceId, 'knight-deleted', { cpu: 1, ramGb: 4 });
      await client1.computers.delete(deleted.id);
      await first.close();

      const second = await startOrgoSimulator({ delays: 'none', stateFile });
      const client2 = createOrgoClient({ baseUrl: second.url, apiKey: second.apiKey, timeoutMs: 2_000, retryDelaysMs: [] });
      try {
        expect(second.workspaceId).toBe(first.workspaceId);
        await expect(client2.computers.get(kept.id)).resolves.toMatchObject({ id: kept.id, name: 'knight-kept', status: 'running', cpu: 2 });
        await expect(client2.computers.get(stopped.id)).resolves.toMatchObject({ status: 'stopped' });
        await expect(client2.computers.get(deleted.id)).rejects.toMatchObject({ code: 'orgo_not_found' });
        // it goes on from there: a name still taken is refused, and a new computer is saved too
        await expect(client2.computers.create(second.workspaceId, 'knight-kept', { cpu: 1, ramGb: 4 })).rejects.toMatchObject({ code: 'orgo_wrong_state' });
        const later = await client2.computers.create(second.workspaceId, 'knight-later', { cpu: 1, ramGb: 4 });
        const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { computers: { id: string }[] };
        expect(saved.computers.map((c) => c.id).sort()).toEqual([kept.id, stopped.id, later.id].sort());
      } finally {
        await second.close();
      }
    }));

  it('of two saved workspaces of its name made at the same time, it uses the one every client elects (created_at, then id)', () =>
    withStateFile(async (stateFile) => {
      const at = '2026-01-01T00:00:00.000000Z';
      // the younger by id first in the file: before, the simulator took the first one listed
      const workspaces = [{ id: 'ws-b', name: 'openclaw-service', createdAt: at }, { id: 'ws-a', name: 'openclaw-service', createdAt: at }];
      await writeFile(stateFile, JSON.stringify({ workspaces, computers: [] }));
      const restarted = await startOrgoSimulator({ delays: 'none', stateFile });
      try {
        const client = createOrgoClient({ baseUrl: restarted.url, apiKey: restarted.apiKey, timeoutMs: 2_000, retryDelaysMs: [], sleep: async () => undefined });
        expect(restarted.workspaceId).toBe('ws-a');
        expect((await client.workspaces.ensure('openclaw-service')).id).toBe(restarted.workspaceId);
      } finally {
        await restarted.close();
      }
    }));

  it('a state file it cannot read stops it with a message naming the file, not a stack of JSON errors', () =>
    withStateFile(async (stateFile) => {
      await writeFile(stateFile, '{"workspaces": [');
      await expect(startOrgoSimulator({ delays: 'none', stateFile })).rejects.toThrow(`the simulated Orgo's state file ${stateFile} is not readable`);
    }));
});
