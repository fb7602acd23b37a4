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
