import { z } from 'zod';
import { decimalInt } from '../config/decimal.ts';
import { MAX_MESSAGE_TEXT } from '../../domain/index.ts';
import { listenPort } from '../http/listen-port.ts';
import { gatewayPolicyConfigSchema } from '../openclaw/config.ts';

const ms = (fallback: number, max: number) => decimalInt(1, max).default(fallback);

/** Environment variables of agent dispatch and the agent runtimes. */
export const agentsConfigSchema = z.object({
  /**
   * `local`: tenants without a connected gateway get the built-in agent (the embedded default).
   * `openclaw`: they get their agent VM's OpenClaw through its bridge (production).
   * A tenant that connected its own gateway is always answered by it.
   */
  AGENT_RUNTIME: z.enum(['local', 'openclaw']).default('local'),
  /** How long one reply may take before the fallback reply is posted instead. */
  AGENT_TIMEOUT_MS: ms(60_000, 600_000),
  /** Replies longer than this are cut, with a marker. */
  AGENT_MAX_REPLY_CHARS: decimalInt(200, MAX_MESSAGE_TEXT).default(MAX_MESSAGE_TEXT),
  /** Conversations answered at once by one agents process. */
  AGENT_CONCURRENCY: decimalInt(1, 1_000).default(64),
  /** The platform's OpenClaw gateway, for tenants that connected a gateway token without a URL. */
  OPENCLAW_GATEWAY_URL: z.string().url().optional(),
  /** The OpenClaw agent asked (`model: openclaw:<id>`). */
  OPENCLAW_AGENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('main'),
  /** One gateway attempt (connect to the end of the stream). */
  OPENCLAW_ATTEMPT_TIMEOUT_MS: ms(30_000, 600_000),
  /** Retries of a gateway request that failed before streaming anything (5xx, 429, network). */
  OPENCLAW_RETRIES: decimalInt(0, 10).default(2),
  /** Consecutive failures that open a tenant's circuit, and how long it stays open. */
  OPENCLAW_BREAKER_FAILURES: decimalInt(1, 100).default(5),
  OPENCLAW_BREAKER_OPEN_MS: ms(30_000, 3_600_000),
  /** How long a message waits for its tenant's bridge to connect before the fallback reply. */
  AGENT_BRIDGE_WAIT_MS: ms(120_000, 3_600_000),
  /** Messages one tenant may have waiting for its bridge; more get the fallback at once. */
  AGENT_BRIDGE_MAX_WAITING: decimalInt(1, 100_000).default(200),
  /** The agents role's HTTP server (the bridge endpoint `/bridge`); the embedded default uses the API's. */
  AGENTS_PORT: listenPort('the agents port').default(8090),
  AGENTS_HOST: z.string().default('0.0.0.0'),
}).extend(gatewayPolicyConfigSchema.shape);
export type AgentsConfig = z.infer<typeof agentsConfigSchema>;
