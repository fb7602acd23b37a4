import { randomBytes } from 'node:crypto';
import { bridgeTokenHash } from '../agents/bridge-tokens.ts';

/**
 * What the saga runs on a computer over Orgo's `bash`. Every piece of text from outside (a
 * knight's task, a token) goes through `shellQuote`, so it reaches bash as one literal word
 * whatever it contains. Each step must exit 0; anything else is a failure of that step.
 */
export interface ScriptStep {
  /** Said in failures and logs; never the command itself (it may carry a token). */
  readonly name: string;
  readonly command: string;
  readonly timeoutSeconds: number;
}

/** POSIX single quotes: everything literal; a quote inside becomes '\'' (close, escaped quote, reopen). */
export const shellQuote = (text: string): string => {
  if (text.includes('\0')) throw new Error('a shell word cannot contain NUL');
  return `'${text.replaceAll("'", `'\\''`)}'`;
};

const STATE_DIR = '~/.ocs';
/**
 * The agent bridge is this product's own CLI (`openclaw-service agent-bridge`, docs/agents.md): it dials
 * out to the platform's /bridge as its tenant, with its token, and relays to the local gateway.
 */
export interface BridgeSettings {
  /** The npm package that provides the `openclaw-service` command (AGENT_BRIDGE_PACKAGE). */
  readonly package: string;
  /** What the bridge dials: ws(s)://…/bridge (AGENT_BRIDGE_PUBLIC_URL). */
  readonly platformUrl: string;
}
const BRIDGE_BIN = 'openclaw-service';
const GATEWAY = 'http://127.0.0.1:18789';

const installOpenClaw: ScriptStep = {
  name: 'install OpenClaw',
  command: 'command -v openclaw >/dev/null 2>&1 || npm install -g openclaw@latest',
  timeoutSeconds: 200,
};
const startOpenClaw: ScriptStep = {
  name: 'start OpenClaw',
  command: `mkdir -p ${STATE_DIR} && (pgrep -f 'openclaw gateway' >/dev/null || (nohup openclaw gateway --port 18789 --bind loopback > ${STATE_DIR}/openclaw.log 2>&1 &))`,
  timeoutSeconds: 60,
};
const installBridge = (bridge: BridgeSettings): ScriptStep => ({
  name: 'install the agent bridge',
  command: `command -v ${BRIDGE_BIN} >/dev/null 2>&1 || npm install -g ${shellQuote(bridge.package)}`,
  timeoutSeconds: 200,
});

/** The bridge's token goes into a file only its user can read; the platform keeps only its hash. */
const handToken = (token: string): ScriptStep => ({
  name: 'hand the bridge its token',
  command: `umask 077 && mkdir -p ${STATE_DIR} && printf '%s' ${shellQuote(token)} > ${STATE_DIR}/bridge-token`,
  timeoutSeconds: 30,
});
const startBridge = (bridge: BridgeSettings, tenantId: string): ScriptStep => ({
  name: 'start the agent bridge',
  command:
    `(pkill -f '${BRIDGE_BIN} agent-bridge' || true) && (nohup ${BRIDGE_BIN} agent-bridge --platform ${shellQuote(bridge.platformUrl)} --tenant ${shellQuote(tenantId)} ` +
    `--token-file ${STATE_DIR}/bridge-token --gateway ${GATEWAY} > ${STATE_DIR}/bridge.log 2>&1 &)`,
  timeoutSeconds: 60,
});

/** What a warm computer gets before anyone claims it: everything but the token (and the tenant it will serve). */
export const warmSteps = (bridge: BridgeSettings): readonly ScriptStep[] => [installOpenClaw, startOpenClaw, installBridge(bridge)];
/** A knight runs its task through OpenClaw. */
export const KNIGHT_STEPS: readonly ScriptStep[] = [installOpenClaw, startOpenClaw];
/** An agent VM: OpenClaw and the bridge, the bridge handed its own token and started as its tenant. */
export const agentSteps = (bridge: BridgeSettings, tenantId: string, token: string, warm: boolean): readonly ScriptStep[] => [
  ...(warm ? [] : warmSteps(bridge)),
  handToken(token),
  startBridge(bridge, tenantId),
];

export const newBridgeToken = (): { token: string; hash: string } => {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: bridgeTokenHash(token) };
};

const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The knight's task, run by OpenClaw's agent. Its output and exit code are kept on the computer
 * under the task id, so a step repeated after a crash reports the first run instead of running
 * the task twice.
 */
export const taskStep = (taskId: string, task: string, timeoutSeconds: number): ScriptStep => {
  if (!TASK_ID.test(taskId)) throw new Error('task ids are tokens of A-Z, a-z, 0-9, _ and -');
  const dir = `${STATE_DIR}/tasks`;
  const out = `${dir}/${taskId}.out`;
  const code = `${dir}/${taskId}.exit`;
  return {
    name: 'run the task',
    command:
      `mkdir -p ${dir} && if [ -f ${code} ]; then cat ${out}; exit "$(cat ${code})"; fi; ` +
      `openclaw agent --message ${shellQuote(task)} > ${out} 2>&1; c=$?; echo "$c" > ${code}; cat ${out}; exit "$c"`,
    timeoutSeconds,
  };
};
