import { createOrgoClient, orgoVmProvider } from '../adapters/orgo/client.ts';
import type { OrgoClient } from '../adapters/orgo/client.ts';
import { ORGO_ERRORS } from '../adapters/orgo/errors.ts';
import { watchHealth } from '../adapters/telemetry/health.ts';
import { hasCode, isAppError } from '../domain/shared/errors.ts';
import { DEFAULT_WORKSPACE_NAME, orgoConfigSchema } from '../adapters/orgo/config.ts';
import { startOrgoSimulator } from '../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../adapters/orgo/simulator/server.ts';
import { provisioningConfigSchema } from '../adapters/provisioning/config.ts';
import type { VmProvider } from '../domain/ports/vm-provider.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { Logger } from './logger.ts';

export interface OrgoConnection {
  readonly vms: VmProvider;
  /** The embedded simulated Orgo, when ORGO_API_KEY is unset and the caller allows it. */
  readonly simulator: OrgoSimulator | undefined;
  readonly describe: string;
  close(): Promise<void>;
}

/** How long the start-up check of ORGO_WORKSPACE_ID waits for Orgo at most (once, no retries). */
const STARTUP_CHECK_MS = 10_000;

/**
 * ORGO_WORKSPACE_ID names a workspace Orgo has: a definite 404 of it (Orgo's own JSON error) stops the
 * process with one line naming the variable (every knight would otherwise fail only at its provisioning
 * deadline). Anything else (Orgo away, slow, refusing the key, a 404 page of something that is not Orgo's
 * API: ORGO_API_URL wrong) is logged and the process starts: it is seen again at first use.
 */
const checkWorkspace = async (client: OrgoClient, workspaceId: string, log: Logger): Promise<void> => {
  try {
    await client.workspaces.get(workspaceId);
  } catch (error) {
    const said = error instanceof Error ? error.message : String(error);
    if (hasCode(error, ORGO_ERRORS.notFound) && isAppError(error) && error.details?.fromOrgo !== true) {
      log.warn(
        { error: said },
        'could not check ORGO_WORKSPACE_ID at start-up: a 404 that is not Orgo\'s API answering (check ORGO_API_URL, the base of Orgo\'s API, e.g. https://www.orgo.ai/api); starting anyway',
      );
      return;
    }
    if (hasCode(error, ORGO_ERRORS.notFound))
      throw new ConfigError(
        `invalid configuration: ORGO_WORKSPACE_ID: Orgo has no workspace ${workspaceId} (${said}); set the id of an existing workspace, or leave ORGO_WORKSPACE_ID unset to use one found or made by name`,
      );
    log.warn({ code: isAppError(error) ? error.code : undefined, error: said }, 'could not check ORGO_WORKSPACE_ID at start-up; starting anyway (it is checked at first use, and readiness reports it)');
  }
};

/**
 * The VM provider this process uses: Orgo with ORGO_API_KEY, else (where `simulate` allows, i.e.
 * the embedded default) a simulated Orgo on loopback, said loudly. The workspace is
 * ORGO_WORKSPACE_ID, or the one named `openclaw-service`, created if missing. Only a process that
 * `provisions` (runs the saga) checks ORGO_WORKSPACE_ID at start-up and reports it in readiness: the
 * API alone uses Orgo for screenshots, and a wrong workspace must not take it down or out of balance.
 */
export const connectOrgo = async (
  env: Record<string, string | undefined>,
  log: Logger,
  /** `stateFile`: where a simulated Orgo keeps its computers across restarts (see startOrgoSimulator). */
  options: {
    simulate: boolean;
    stateFile?: string;
    /** This process provisions VMs (runs the saga): check ORGO_WORKSPACE_ID now (a 404 stops it) and register `orgo:workspace`. */
    provisions: boolean;
  },
): Promise<OrgoConnection | undefined> => {
  const config = parseEnv(orgoConfigSchema, env);
  let simulator: OrgoSimulator | undefined;
  let target = { baseUrl: config.ORGO_API_URL, apiKey: config.ORGO_API_KEY, workspaceId: config.ORGO_WORKSPACE_ID };
  if (!target.apiKey) {
    if (!options.simulate) return undefined;
    const delays = parseEnv(provisioningConfigSchema, env).ORGO_SIMULATOR_DELAYS;
    simulator = await startOrgoSimulator({ delays, ...(options.stateFile ? { stateFile: options.stateFile } : {}) });
    target = { baseUrl: simulator.url, apiKey: simulator.apiKey, workspaceId: simulator.workspaceId };
    log.warn({ url: simulator.url }, 'ORGO_API_KEY is not set: knights and agent VMs run on a simulated Orgo (nothing is really created)');
  }
  let unwatch: (() => void) | undefined;
  try {
    // The workspace is looked up on first use, so a process starts while Orgo is away.
    const client = createOrgoClient({ baseUrl: target.baseUrl, apiKey: target.apiKey!, timeoutMs: config.ORGO_TIMEOUT_MS, retryDelaysMs: config.ORGO_RETRY_DELAYS_MS, log });
    const workspace = target.workspaceId ?? (async () => (await client.workspaces.ensure(DEFAULT_WORKSPACE_NAME)).id);
    // A fixed ORGO_WORKSPACE_ID is checked now (a 404 stops the process) and followed by readiness:
    // not ready while calls within it answer that it does not exist (e.g. deleted at Orgo since).
    let missing: string | undefined;
    const fixed = options.provisions && !simulator && target.workspaceId !== undefined;
    if (fixed) {
      const once = createOrgoClient({ baseUrl: target.baseUrl, apiKey: target.apiKey!, timeoutMs: Math.min(config.ORGO_TIMEOUT_MS, STARTUP_CHECK_MS), retryDelaysMs: [], log });
      await checkWorkspace(once, target.workspaceId!, log);
      unwatch = watchHealth('orgo:workspace', async () => (missing ? { ok: false, detail: missing } : { ok: true }));
    }
    const watch = fixed ? { missing: (error: Error) => void (missing = error.message), found: () => void (missing = undefined) } : undefined;
    return {
      vms: orgoVmProvider(client, workspace, watch),
      simulator,
      describe: simulator ? `simulated Orgo at ${simulator.url}` : `Orgo at ${config.ORGO_API_URL}, workspace ${target.workspaceId ?? DEFAULT_WORKSPACE_NAME}`,
      close: async () => {
        unwatch?.();
        await simulator?.close();
      },
    };
  } catch (error) {
    unwatch?.();
    await simulator?.close();
    throw error;
  }
};
