import type { AgentRequest, AgentRuntime } from '../../domain/ports/agent-runtime.ts';
import type { AddressGuard } from './address-guard.ts';
import type { Breakers } from './breaker.ts';
import { chatWithRetries } from './gateway-client.ts';

/** One OpenClaw session per conversation, so the gateway keeps each conversation's context apart. */
export const sessionKeyOf = (request: Pick<AgentRequest, 'tenantId' | 'conversationId'>): string =>
  `ocs:${request.tenantId}:${request.conversationId}`;

export interface GatewaySettings {
  readonly agentId: string;
  readonly retries: number;
  readonly attemptTimeoutMs: number;
  readonly breakers: Breakers;
  /** Which addresses the tenant's gateway may be on; absent: any, resolved by the system (the platform's own gateway). */
  readonly addressGuard?: AddressGuard | undefined;
}

/** A tenant's OpenClaw gateway over its OpenAI-compatible HTTP API, behind the tenant's circuit breaker. */
export const createGatewayRuntime = (gateway: { url: string; token: string }, settings: GatewaySettings): AgentRuntime => ({
  kind: 'gateway',
  reply: (request, options) =>
    settings.breakers.run(request.tenantId, () =>
      chatWithRetries(
        {
          baseUrl: gateway.url,
          token: gateway.token,
          agentId: settings.agentId,
          sessionKey: sessionKeyOf(request),
          text: request.text,
          signal: options.signal,
          onText: options.onPartial,
          addressGuard: settings.addressGuard,
        },
        { retries: settings.retries, attemptTimeoutMs: settings.attemptTimeoutMs },
      ),
    ),
});
