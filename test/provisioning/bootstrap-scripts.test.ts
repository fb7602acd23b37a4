import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KNIGHT_STEPS, TASK_INTERRUPTED_EXIT, agentSteps, newBridgeToken, taskStep, warmSteps } from '../../adapters/provisioning/scripts.ts';
import type { ScriptStep } from '../../adapters/provisioning/scripts.ts';
import { eventually } from './support.ts';

/**
 * The bootstrap steps run for real, by bash, in a temporary HOME: `openclaw`, `npm` and
 * `openclaw-service` are stubs that log their argv and the OPENCLAW_GATEWAY_TOKEN they were given.
 */
const STUB = `#!/bin/bash
{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf '\\t%s' "$a"; done; printf '\\tENV=%s\\n' "\${OPENCLAW_GATEWAY_TOKEN-<unset>}"; } >> "$STUB_LOG"
# with STUB_LINGER the long-running ones stay up (as the real gateway and bridge do) until killed
case "$1" in gateway|agent-bridge) if [ -n "$STUB_LINGER" ]; then sleep 20 & wait; fi ;; esac
# with STUB_AGENT_SECONDS a task takes that long, then says it is done
if [ "$1" = agent ] && [ -n "$STUB_AGENT_SECONDS" ]; then sleep "$STUB_AGENT_SECONDS"; echo "task done"; fi
exit 0
`;

interface Call {
  readonly bin: string;
  readonly argv: readonly string[];
  /** OPENCLAW_GATEWAY_TOKEN as the process saw it; '<unset>' when it had none. */
  readonly env: string;
}

interface Vm {
  readonly home: string;
  run(steps: readonly ScriptStep[]): void;
  /** One step as a bash call on the computer, not awaited in turn: its exit status and output. */
  exec(step: ScriptStep): Promise<{ status: number | null; stdout: string; stderr: string }>;
  calls(): Call[];
  tokenFile: string;
}

const homes: string[] = [];
const lingering: number[] = [];
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
afterEach(() => {
  for (const pid of lingering.splice(0)) if (running(pid)) process.kill(pid, 'SIGKILL');
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

const vm = (options: { linger?: boolean; agentSeconds?: number } = {}): Vm => {
  const root = mkdtempSync(path.join(tmpdir(), 'ocs-boot-'));
  homes.push(root);
  const home = path.join(root, 'home');
  const bin = path.join(root, 'bin');
  const log = path.join(root, 'calls.log');
  mkdirSync(home);
  mkdirSync(bin);
  writeFileSync(log, '');
  for (const name of ['openclaw', 'npm', 'openclaw-service']) {
    writeFileSync(path.join(bin, name), STUB);
    chmodSync(path.join(bin, name), 0o755);
  }
  const env = {
    PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    STUB_LOG: log,
    ...(options.linger ? { STUB_LINGER: '1' } : {}),
    ...(options.agentSeconds ? { STUB_AGENT_SECONDS: String(options.agentSeconds) } : {}),
  };
  return {
    home,
    tokenFile: path.join(home, '.ocs', 'gateway-token'),
    run(steps) {
      for (const step of steps) {
        // the way a `bash` call on the computer runs it: one bash -c per step, which must exit 0
        const result = spawnSync('bash', ['-c', step.command], { env, encoding: 'utf8', timeout: 20_000 });
        expect({ step: step.name, status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ step: step.name, status: 0, signal: null, stderr: '' });
      }
    },
    exec: (step) =>
      new Promise((resolve) => {
        const child = spawn('bash', ['-c', step.command], { env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      }),
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [binName, ...rest] = line.split('\t');
          const env = rest.pop()!;
          return { bin: binName!, argv: rest, env: env.replace(/^ENV=/, '') };
        }),
  };
};

const BRIDGE = { package: 'openclaw-service', platformUrl: 'wss://platform.example/bridge' };
const isGateway = (c: Call) => c.bin === 'openclaw' && c.argv[0] === 'gateway';
const isBridge = (c: Call) => c.bin === 'openclaw-service' && c.argv[0] === 'agent-bridge';
/** The started processes are backgrounded (`nohup … &`): wait for their stubs to log. */
const started = (box: Vm, what: string, match: (c: Call) => boolean, count: number) =>
  eventually(what, () => (box.calls().filter(match).length >= count ? true : undefined), 5_000);

const gatewayToken = (box: Vm): string => {
  const stat = statSync(box.tokenFile);
  expect(stat.mode & 0o777).toBe(0o600);
  const token = readFileSync(box.tokenFile, 'utf8');
  expect(token).toMatch(/^[0-9a-f]{64}$/);
  return token;
};

const expectGatewayConfigured = (calls: readonly Call[], token: string) => {
  const sets = calls.filter((c) => c.bin === 'openclaw' && c.argv[0] === 'config').map((c) => c.argv.join(' '));
  expect(sets).toEqual(
    expect.arrayContaining([
      'config set gateway.mode local',
      'config set gateway.auth.mode token',
      'config set gateway.http.endpoints.chatCompletions.enabled true',
    ]),
  );
  const gateways = calls.filter(isGateway);
  expect(gateways.length).toBeGreaterThan(0);
  for (const g of gateways) {
    expect(g.argv).toEqual(['gateway', '--port', '18789', '--bind', 'loopback']);
    expect(g.env).toBe(token);
  }
  // the token reaches processes through their environment or a file, never on a command line
  for (const c of calls) expect(c.argv.join(' ')).not.toContain(token);
};

describe('the agent VM bootstrap, run by bash with stub OpenClaw and bridge', () => {
  it('makes a gateway token on the VM, configures the gateway, starts it with the token and the bridge with its file; twice gives the same', async () => {
    const box = vm();
    const { token: bridgeToken } = newBridgeToken();
    const steps = agentSteps(BRIDGE, 't-acme', bridgeToken, false);

    box.run(steps);
    await started(box, 'the gateway and the bridge', (c) => isGateway(c) || isBridge(c), 2);
    const token = gatewayToken(box);
    expect(readFileSync(path.join(box.home, '.ocs', 'bridge-token'), 'utf8')).toBe(bridgeToken);
    const bridge = box.calls().find(isBridge)!;
    const flag = bridge.argv.indexOf('--gateway-token-file');
    expect(flag).toBeGreaterThan(0);
    expect(bridge.argv[flag + 1]).toBe(box.tokenFile);
    expect(bridge.argv).toEqual(
      expect.arrayContaining(['--platform', BRIDGE.platformUrl, '--tenant', 't-acme', '--token-file', path.join(box.home, '.ocs', 'bridge-token'), '--gateway', 'http://127.0.0.1:18789']),
    );
    expectGatewayConfigured(box.calls(), token);
    for (const step of steps) expect(step.command).not.toContain(token);

    // the saga runs steps again after a crash: the same token, nothing left half-made
    box.run(steps);
    await started(box, 'the gateway and the bridge again', (c) => isGateway(c) || isBridge(c), 4);
    expect(gatewayToken(box)).toBe(token);
    expect(existsSync(`${box.tokenFile}.new`)).toBe(false);
    expectGatewayConfigured(box.calls(), token);
    expect(box.calls().filter(isBridge).map((c) => c.argv[c.argv.indexOf('--gateway-token-file') + 1])).toEqual([box.tokenFile, box.tokenFile]);
    expect(box.calls().filter((c) => c.bin === 'npm')).toEqual([]); // both commands were there already
  });

  it('a warm computer gets its gateway token before the claim; the claim hands only the bridge token and starts the bridge with the file', async () => {
    const box = vm();
    box.run(warmSteps(BRIDGE));
    await started(box, 'the gateway', isGateway, 1);
    const token = gatewayToken(box);
    expect(box.calls().filter(isBridge)).toEqual([]);

    const claim = agentSteps(BRIDGE, 't-warm', newBridgeToken().token, true);
    box.run(claim);
    await started(box, 'the bridge', isBridge, 1);
    expect(gatewayToken(box)).toBe(token);
    const bridge = box.calls().find(isBridge)!;
    expect(bridge.argv[bridge.argv.indexOf('--gateway-token-file') + 1]).toBe(box.tokenFile);
    expectGatewayConfigured(box.calls(), token);
  });

  it("a knight's task runs the OpenClaw CLI with the gateway's token in its environment, once", async () => {
    const box = vm();
    box.run(KNIGHT_STEPS);
    await started(box, 'the gateway', isGateway, 1);
    const token = gatewayToken(box);
    const task = taskStep('task-1', `Say "hi"; echo $HOME it's`, 30);
    box.run([task]);
    box.run([task]); // repeated after a crash: reports the first run, does not run it again
    const agents = box.calls().filter((c) => c.bin === 'openclaw' && c.argv[0] === 'agent');
    expect(agents).toEqual([{ bin: 'openclaw', argv: ['agent', '--message', `Say "hi"; echo $HOME it's`], env: token }]);
    expectGatewayConfigured(box.calls(), token);
  });

  it("a task's step repeated while its run goes on (a call that timed out, retried) waits for that run and reports it: the task runs once", async () => {
    const box = vm({ agentSeconds: 2 });
    const task = taskStep('task-slow', 'Write the report', 30);
    const first = box.exec(task);
    await eventually('the run started', () => (box.calls().some((c) => c.argv[0] === 'agent') ? true : undefined), 5_000);
    const repeated = await box.exec(task); // the first call is still waiting: this one must not start the task again
    expect(await first).toEqual({ status: 0, stdout: 'task done\n', stderr: '' });
    expect(repeated).toEqual({ status: 0, stdout: 'task done\n', stderr: '' });
    expect(box.calls().filter((c) => c.argv[0] === 'agent').map((c) => c.argv)).toEqual([['agent', '--message', 'Write the report']]);
  });

  it("a task whose run is gone without an exit code (the computer restarted) is reported as interrupted, not run again", async () => {
    const box = vm();
    const task = taskStep('task-lost', 'Send the invoices', 30);
    // what a run leaves when its computer restarts mid-task: the lock and the pid of a process that is no more
    const dead = spawnSync('bash', ['-c', 'echo $$']).stdout.toString().trim();
    mkdirSync(path.join(box.home, '.ocs', 'tasks', 'task-lost.lock'), { recursive: true });
    writeFileSync(path.join(box.home, '.ocs', 'tasks', 'task-lost.pid'), `${dead}\n`);
    const result = await box.exec(task);
    expect(result.status).toBe(TASK_INTERRUPTED_EXIT);
    expect(result.stderr).toMatch(/not run again/);
    expect(box.calls().filter((c) => c.argv[0] === 'agent')).toEqual([]);
  });

  it('run again while the gateway and the bridge are up: the gateway is left alone, the old bridge is stopped and a new one started', async () => {
    const box = vm({ linger: true });
    const steps = agentSteps(BRIDGE, 't-again', newBridgeToken().token, false);
    const pidOf = (name: string) => Number(readFileSync(path.join(box.home, '.ocs', name), 'utf8').trim());
    box.run(steps);
    await started(box, 'the gateway and the bridge', (c) => isGateway(c) || isBridge(c), 2);
    const gatewayPid = pidOf('gateway.pid');
    const firstBridge = pidOf('bridge.pid');
    lingering.push(gatewayPid, firstBridge);
    expect([running(gatewayPid), running(firstBridge)]).toEqual([true, true]);

    box.run(steps);
    await started(box, 'the second bridge', isBridge, 2);
    const secondBridge = pidOf('bridge.pid');
    lingering.push(secondBridge);
    expect(box.calls().filter(isGateway)).toHaveLength(1);
    expect(pidOf('gateway.pid')).toBe(gatewayPid);
    expect(secondBridge).not.toBe(firstBridge);
    await eventually('the first bridge stopped', () => (running(firstBridge) ? undefined : true), 5_000);
    expect(running(secondBridge)).toBe(true);
  });
});
