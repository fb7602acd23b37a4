import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { startAgentBridge } from '../adapters/agents/bridge-client.ts';
import { ConfigError, parseEnv } from './config.ts';
import type { Logger } from './logger.ts';

const bridgeEnvSchema = z.object({
  AGENT_BRIDGE_PLATFORM_URL: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// URL').optional(),
  AGENT_BRIDGE_TENANT: z.string().optional(),
  AGENT_BRIDGE_TOKEN: z.string().optional(),
  OPENCLAW_GATEWAY_URL: z.string().url().default('http://127.0.0.1:18789'),
  OPENCLAW_GATEWAY_TOKEN: z.string().optional(),
  OPENCLAW_AGENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('main'),
});

export interface AgentBridgeFlags {
  platform?: string;
  tenant?: string;
  tokenFile?: string;
  gateway?: string;
  gatewayTokenFile?: string;
}

const secretFrom = async (file: string | undefined, value: string | undefined, what: string): Promise<string> => {
  const text = file ? (await readFile(file, 'utf8').catch(() => { throw new ConfigError(`cannot read ${what} from ${file}`); })).trim() : value?.trim();
  if (!text) throw new ConfigError(`${what} is missing: give a file (--${what === 'the bridge token' ? 'token-file' : 'gateway-token-file'}) or its environment variable`);
  return text;
};

/**
 * `openclaw-service agent-bridge`: runs on a tenant's VM until stopped. Flags win over the
 * environment; the tokens are read from files (or variables), never from the command line, so
 * they do not show in the process list. Resolves with the exit code: 0 when stopped, 3 when the
 * platform refused the token (close code and reason printed).
 */
export const runAgentBridge = async (flags: AgentBridgeFlags, env: NodeJS.ProcessEnv, log: Logger): Promise<{ stop(): Promise<void>; exitCode: Promise<number> }> => {
  const e = parseEnv(bridgeEnvSchema, env);
  const platformUrl = flags.platform ?? e.AGENT_BRIDGE_PLATFORM_URL;
  const tenantId = flags.tenant ?? e.AGENT_BRIDGE_TENANT;
  if (!platformUrl || !/^wss?:\/\//.test(platformUrl)) throw new ConfigError('the platform URL is missing or not ws(s)://: --platform or AGENT_BRIDGE_PLATFORM_URL');
  if (!tenantId) throw new ConfigError('the tenant is missing: --tenant or AGENT_BRIDGE_TENANT');
  const token = await secretFrom(flags.tokenFile, e.AGENT_BRIDGE_TOKEN, 'the bridge token');
  const gatewayToken = await secretFrom(flags.gatewayTokenFile, e.OPENCLAW_GATEWAY_TOKEN, 'the gateway token');
  const bridge = startAgentBridge({
    platformUrl,
    tenantId,
    token,
    gateway: { url: (flags.gateway ?? e.OPENCLAW_GATEWAY_URL).replace(/\/+$/, ''), token: gatewayToken, agentId: e.OPENCLAW_AGENT_ID },
    log,
  });
  return {
    stop: bridge.stop,
    exitCode: bridge.done.then((outcome) => {
      if (outcome.code === 1000) return 0;
      process.stderr.write(`agent-bridge: the platform refused this bridge (close ${outcome.code}: ${outcome.reason})\n`);
      return 3;
    }),
  };
};
