import type { Server } from 'node:http';
import { createBridgeHub } from '../adapters/agents/bridge-hub.ts';
import type { BridgeHub } from '../adapters/agents/bridge-hub.ts';
import { bridgeTokenChecker } from '../adapters/agents/bridge-tokens.ts';
import { agentsConfigSchema } from '../adapters/agents/config.ts';
import type { AgentsConfig } from '../adapters/agents/config.ts';
import { startAgentDispatcher } from '../adapters/agents/dispatcher.ts';
import { startKnightReports } from '../adapters/agents/knight-reports.ts';
import { createLocalAgent } from '../adapters/agents/local-agent.ts';
import { consumeDecoded } from '../adapters/bus/decoded.ts';
import { createAddressGuard } from '../adapters/openclaw/address-guard.ts';
import type { Resolve } from '../adapters/openclaw/address-guard.ts';
import { createBreakers } from '../adapters/openclaw/breaker.ts';
import { createGatewayRuntime } from '../adapters/openclaw/gateway-runtime.ts';
import type { CommandPorts } from '../commands/context.ts';
import { tenantDecider } from '../domain/index.ts';
import type { AgentPartials, AgentRuntime } from '../domain/ports/agent-runtime.ts';
import type { BusSubscription } from '../domain/ports/bus.ts';
import type { LiveFeed } from '../domain/ports/live.ts';
import { AppError } from '../domain/shared/errors.ts';
import type { TenantId } from '../domain/shared/ids.ts';
import { parseStreamId, tenantStream } from '../domain/shared/streams.ts';
import type { ReadSide } from '../projections/read-side.ts';
import { parseEnv } from './config.ts';
import type { Logger } from './logger.ts';
import type { Storage } from './stores.ts';

export const checkAgentsConfig = (env: Record<string, string | undefined>): AgentsConfig => parseEnv(agentsConfigSchema, env);

export interface RunningAgents {
  readonly config: AgentsConfig;
  readonly hub: BridgeHub;
  stop(): Promise<void>;
}

/** Partial replies as `agent.partial` frames on the live feed, to the tenant's open dashboards (best effort). */
export const livePartials = (feed: LiveFeed, log: Logger): AgentPartials => ({
  onPartial: (p) =>
    void feed
      .publish(p.tenantId, { kind: 'agent.partial', conversationId: p.conversationId, inReplyTo: p.inReplyTo, text: p.text, seq: p.seq })
      .catch((error: unknown) => log.debug({ err: error, tenantId: p.tenantId }, 'agent partial not published')),
});

/** Without a live feed, partial replies only reach the debug log. */
const loggedPartials = (log: Logger): AgentPartials => ({
  onPartial: (p) => log.debug({ tenantId: p.tenantId, conversationId: p.conversationId, inReplyTo: p.inReplyTo, seq: p.seq, chars: p.text.length }, 'agent partial'),
});

/**
 * Agent dispatch on a storage: the dispatcher (answers user messages), the knight reports (a
 * chat's knights report back into it), and the bridge endpoint on `server`. Which runtime answers
 * a tenant: its own gateway when it connected one; otherwise, with AGENT_RUNTIME=openclaw and a
 * ready agent VM, the VM's OpenClaw through its bridge; otherwise the built-in local agent.
 */
export const startAgents = async (options: {
  storage: Storage;
  ports: CommandPorts;
  reads: ReadSide;
  server: Server;
  env: Record<string, string | undefined>;
  log: Logger;
  partials?: AgentPartials;
  /** How a tenant gateway's host name is resolved (tests bring their own DNS); the system's by default. */
  resolveGatewayHost?: Resolve;
}): Promise<RunningAgents> => {
  const { storage, ports, log } = options;
  const config = checkAgentsConfig(options.env);
  const tokens = bridgeTokenChecker(ports.shell);
  const hub = createBridgeHub({ verify: tokens.verify, log, waitMs: config.AGENT_BRIDGE_WAIT_MS, maxWaiting: config.AGENT_BRIDGE_MAX_WAITING });
  hub.attach(options.server);
  const local = createLocalAgent({ ports, reads: options.reads });
  const breakers = createBreakers({ failures: config.OPENCLAW_BREAKER_FAILURES, openMs: config.OPENCLAW_BREAKER_OPEN_MS });
  const gatewaySettings = { agentId: config.OPENCLAW_AGENT_ID, retries: config.OPENCLAW_RETRIES, attemptTimeoutMs: config.OPENCLAW_ATTEMPT_TIMEOUT_MS, breakers };
  // a URL the tenant named is held to the address policy on every connection; the platform's own is the operator's choice
  const tenantGatewaySettings = {
    ...gatewaySettings,
    addressGuard: createAddressGuard({ allowPrivateNetworks: config.GATEWAY_ALLOW_PRIVATE_NETWORKS, resolve: options.resolveGatewayHost }),
  };

  const runtimeFor = async (tenantId: string): Promise<AgentRuntime> => {
    const { state } = await ports.shell.state(tenantDecider, tenantStream(tenantId as TenantId), 1_000);
    if (state.status !== 'active' && state.status !== 'suspended') return local;
    if (state.agentGateway) {
      const { url, token } = state.agentGateway;
      if (url) return createGatewayRuntime({ url, token }, tenantGatewaySettings);
      if (!config.OPENCLAW_GATEWAY_URL) return unconfigured;
      return createGatewayRuntime({ url: config.OPENCLAW_GATEWAY_URL, token }, gatewaySettings);
    }
    if (config.AGENT_RUNTIME === 'openclaw' && state.agentVm.status === 'ready') return hub.runtimeFor(tenantId);
    return local;
  };

  const subscriptions: BusSubscription[] = [];
  try {
    subscriptions.push(
      await startAgentDispatcher({
        bus: storage.bus,
        codec: storage.codec,
        ports,
        runtimeFor,
        partials: options.partials ?? loggedPartials(log),
        log,
        timeoutMs: config.AGENT_TIMEOUT_MS,
        maxReplyChars: config.AGENT_MAX_REPLY_CHARS,
        concurrency: config.AGENT_CONCURRENCY,
      }),
      await startKnightReports({ bus: storage.bus, codec: storage.codec, store: storage.store, ports, log }),
      // every agents process holds its own bridges, so each hears every revocation
      await consumeDecoded(
        storage.bus,
        storage.codec,
        'agents-bridge-tokens',
        { categories: ['tenant'], eventTypes: ['BridgeTokenRevoked', 'AgentVmReady'], decode: 'stored', mode: 'broadcast' },
        async (events) => {
          for (const event of events) {
            const { tenantId } = parseStreamId(event.streamId);
            await hub.recheck(tenantId, (hash) => tokens.isCurrent(tenantId, hash));
          }
        },
      ),
    );
  } catch (error) {
    for (const s of subscriptions) await s.close();
    await hub.close();
    throw error;
  }
  log.info({ runtime: config.AGENT_RUNTIME }, 'agent dispatch running');
  return {
    config,
    hub,
    async stop() {
      for (const s of subscriptions.reverse()) await s.close();
      await hub.close();
    },
  };
};

const unconfigured: AgentRuntime = {
  kind: 'gateway',
  reply: () => Promise.reject(new AppError('unavailable', 'gateway_url_missing', 'the tenant connected a gateway token without a URL, and OPENCLAW_GATEWAY_URL is not set')),
};
