import { createOrgoClient, orgoVmProvider } from '../adapters/orgo/client.ts';
import { DEFAULT_WORKSPACE_NAME, orgoConfigSchema } from '../adapters/orgo/config.ts';
import { startOrgoSimulator } from '../adapters/orgo/simulator/server.ts';
import type { OrgoSimulator } from '../adapters/orgo/simulator/server.ts';
import { provisioningConfigSchema } from '../adapters/provisioning/config.ts';
import type { VmProvider } from '../domain/ports/vm-provider.ts';
import { parseEnv } from './config.ts';
import type { Logger } from './logger.ts';

export interface OrgoConnection {
  readonly vms: VmProvider;
  /** The embedded simulated Orgo, when ORGO_API_KEY is unset and the caller allows it. */
  readonly simulator: OrgoSimulator | undefined;
  readonly describe: string;
  close(): Promise<void>;
}

/**
 * The VM provider this process uses: Orgo with ORGO_API_KEY, else (where `simulate` allows, i.e.
 * the embedded default) a simulated Orgo on loopback, said loudly. The workspace is
 * ORGO_WORKSPACE_ID, or the one named `openclaw-service`, created if missing.
 */
export const connectOrgo = async (
  env: Record<string, string | undefined>,
  log: Logger,
  /** `stateFile`: where a simulated Orgo keeps its computers across restarts (see startOrgoSimulator). */
  options: { simulate: boolean; stateFile?: string },
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
  try {
    // The workspace is looked up on first use, so a process starts while Orgo is away.
    const client = createOrgoClient({ baseUrl: target.baseUrl, apiKey: target.apiKey!, timeoutMs: config.ORGO_TIMEOUT_MS, retryDelaysMs: config.ORGO_RETRY_DELAYS_MS, log });
    const workspace = target.workspaceId ?? (async () => (await client.workspaces.ensure(DEFAULT_WORKSPACE_NAME)).id);
    return {
      vms: orgoVmProvider(client, workspace),
      simulator,
      describe: simulator ? `simulated Orgo at ${simulator.url}` : `Orgo at ${config.ORGO_API_URL}, workspace ${target.workspaceId ?? DEFAULT_WORKSPACE_NAME}`,
      close: async () => simulator?.close(),
    };
  } catch (error) {
    await simulator?.close();
    throw error;
  }
};
