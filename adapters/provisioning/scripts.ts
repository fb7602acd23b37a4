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

const GATEWAY_TOKEN_FILE = `${STATE_DIR}/gateway-token`;
/**
 * `OPENCLAW_GATEWAY_TOKEN=<the VM's gateway token>` as a command prefix: the token is read on the VM
 * when the command runs, so it reaches the process's environment and never bash's text, argv or our logs.
 */
const WITH_GATEWAY_TOKEN = `OPENCLAW_GATEWAY_TOKEN="$(cat ${GATEWAY_TOKEN_FILE} 2>/dev/null)"`;
/**
 * Whether the process a pid file names still runs and is `what` (a word of its command line). Pid files,
 * not `pgrep -f`/`pkill -f`: a pattern that matches the process also matches the shell running the
 * step when that shell was started as `bash -c '<the step>'`, whose command line holds the same words;
 * the old `pgrep` then always found the gateway "running" and never started it, and `pkill` killed the
 * step's own shell. A pid reused after a reboot is told apart by the command line.
 */
const alive = (pidFile: string, what: string): string =>
  `{ p="$(cat ${pidFile} 2>/dev/null)"; [ -n "$p" ] && grep -qa -- ${shellQuote(what)} "/proc/$p/cmdline" 2>/dev/null; }`;
const GATEWAY_PID = `${STATE_DIR}/gateway.pid`;
const BRIDGE_PID = `${STATE_DIR}/bridge.pid`;

const installOpenClaw: ScriptStep = {
  name: 'install OpenClaw',
  command: 'command -v openclaw >/dev/null 2>&1 || npm install -g openclaw@latest',
  timeoutSeconds: 200,
};
/**
 * The gateway's own token, made on the VM (32 random bytes, hex) the first time and kept after, so the
 * step can be run again; it never passes through Orgo's API, the saga or its logs. The gateway
 * refuses to start without `gateway.mode local`; `auth.mode token` makes it require that token (from
 * OPENCLAW_GATEWAY_TOKEN, see `startOpenClaw`); the bridge relays over its OpenAI-compatible
 * `/v1/chat/completions`, which is off unless enabled.
 */
const configureGateway: ScriptStep = {
  name: 'configure the OpenClaw gateway',
  command:
    `umask 077 && mkdir -p ${STATE_DIR} && ` +
    `{ [ -s ${GATEWAY_TOKEN_FILE} ] || { node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('hex'))" > ${GATEWAY_TOKEN_FILE}.new && ` +
    `[ -s ${GATEWAY_TOKEN_FILE}.new ] && mv -f ${GATEWAY_TOKEN_FILE}.new ${GATEWAY_TOKEN_FILE}; }; } && chmod 600 ${GATEWAY_TOKEN_FILE} && ` +
    'openclaw config set gateway.mode local && openclaw config set gateway.auth.mode token && ' +
    'openclaw config set gateway.http.endpoints.chatCompletions.enabled true',
  timeoutSeconds: 60,
};
const startOpenClaw: ScriptStep = {
  name: 'start OpenClaw',
  command:
    `mkdir -p ${STATE_DIR} && { [ -s ${GATEWAY_TOKEN_FILE} ] || { echo 'no gateway token in ${GATEWAY_TOKEN_FILE}' >&2; exit 1; }; } && ` +
    `{ ${alive(GATEWAY_PID, 'gateway')} || (${WITH_GATEWAY_TOKEN} nohup openclaw gateway --port 18789 --bind loopback > ${STATE_DIR}/openclaw.log 2>&1 & echo $! > ${GATEWAY_PID}); }`,
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
    `{ ${alive(BRIDGE_PID, 'agent-bridge')} && kill "$p"; true; } && (nohup ${BRIDGE_BIN} agent-bridge --platform ${shellQuote(bridge.platformUrl)} --tenant ${shellQuote(tenantId)} ` +
    `--token-file ${STATE_DIR}/bridge-token --gateway ${GATEWAY} --gateway-token-file ${GATEWAY_TOKEN_FILE} > ${STATE_DIR}/bridge.log 2>&1 & echo $! > ${BRIDGE_PID})`,
  timeoutSeconds: 60,
});

/**
 * What a warm computer gets before anyone claims it: everything but the bridge's token (and the tenant
 * it will serve). The gateway's token is the VM's own, so it is made here already.
 */
export const warmSteps = (bridge: BridgeSettings): readonly ScriptStep[] => [installOpenClaw, configureGateway, startOpenClaw, installBridge(bridge)];
/** A knight runs its task through OpenClaw (its CLI talks to the gateway with the gateway's token). */
export const KNIGHT_STEPS: readonly ScriptStep[] = [installOpenClaw, configureGateway, startOpenClaw];
/**
 * An agent VM: OpenClaw and the bridge, the bridge handed its own token and started as its tenant,
 * reading the gateway's token from its file (`--gateway-token-file`).
 */
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

/** Exit code of a task step whose run ended without recording one (its process is gone): not run again. */
export const TASK_INTERRUPTED_EXIT = 75;

/**
 * The knight's task, run by OpenClaw's agent, at most once per task id: the first step to take the
 * task's lock (an atomic mkdir) starts the run detached from the step's shell, with its output and
 * exit code kept on the computer; any step (the first, or one repeated after a crash or a timed-out
 * call, even while the run goes on) waits for that exit code and reports the run. A run whose process
 * is gone without an exit code (the computer restarted) is reported as interrupted, never started again:
 * nobody can tell what it already did.
 */
export const taskStep = (taskId: string, task: string, timeoutSeconds: number): ScriptStep => {
  if (!TASK_ID.test(taskId)) throw new Error('task ids are tokens of A-Z, a-z, 0-9, _ and -');
  const dir = `${STATE_DIR}/tasks`;
  const [text, out, code, pid, lock] = ['task', 'out', 'exit', 'pid', 'lock'].map((ext) => `${dir}/${taskId}.${ext}`);
  // the task's text goes through a file: the detached run is itself a single-quoted command line
  const run = `${WITH_GATEWAY_TOKEN} openclaw agent --message "$(cat ${text})" > ${out} 2>&1; echo $? > ${code}.tmp && mv ${code}.tmp ${code}`;
  return {
    name: 'run the task',
    command:
      `mkdir -p ${dir} && if [ ! -f ${code} ] && mkdir ${lock} 2>/dev/null; then ` +
      `printf '%s' ${shellQuote(task)} > ${text}; nohup bash -c '${run}' < /dev/null > /dev/null 2>&1 & echo $! > ${pid}; fi; ` +
      `while [ ! -f ${code} ] && { [ ! -f ${pid} ] || kill -0 "$(cat ${pid})" 2>/dev/null; }; do sleep 1; done; ` +
      `if [ -f ${code} ]; then cat ${out}; exit "$(cat ${code})"; fi; ` +
      `echo "the task's run ended without an exit code (its process is gone): it is not run again" >&2; exit ${TASK_INTERRUPTED_EXIT}`,
    timeoutSeconds,
  };
};
