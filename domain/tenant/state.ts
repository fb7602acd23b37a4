import { unreachable } from '../shared/decider.ts';
import type { TenantId } from '../shared/ids.ts';
import type { Tier } from '../tiers.ts';
import type { TenantFacts } from './facts.ts';
import type { AgentVmFailureStage, ApiKeyScope, TenantEvent } from './events.ts';

export interface ApiKeyEntry {
  readonly scope: ApiKeyScope;
  readonly status: 'active' | 'revoked';
}

export interface TelegramBot {
  readonly botUsername: string;
  readonly botId: number;
  readonly token: string;
  readonly webhookSecretHash: string;
}

export interface WhatsAppNumber {
  readonly phoneNumberId: string;
  readonly displayPhoneNumber: string;
  readonly accessToken: string;
  readonly appSecret: string;
  readonly verifyTokenHash: string;
}

export type AgentVm =
  | { readonly status: 'none' }
  | { readonly status: 'requested'; readonly requestId: string }
  | { readonly status: 'ready'; readonly requestId: string; readonly vmId: string; readonly bridgeTokenHash: string | null }
  | { readonly status: 'failed'; readonly requestId: string; readonly stage: AgentVmFailureStage; readonly reason: string };

export interface AgentGateway {
  readonly url: string | null;
  readonly token: string;
}

/** How many revoked bridge token hashes a tenant remembers (to refuse them with "revoked", not "unknown"). */
export const REVOKED_BRIDGE_TOKENS = 8;

/** Everything a live tenant keeps; only the key table grows, and it is bounded in practice by the key limit. */
export interface TenantProfile {
  readonly tenantId: TenantId;
  readonly name: string;
  readonly email: string | null;
  readonly tier: Tier;
  readonly apiKeys: Readonly<Record<string, ApiKeyEntry>>;
  readonly activeApiKeys: number;
  readonly telegram: TelegramBot | null;
  readonly whatsapp: WhatsAppNumber | null;
  readonly agentVm: AgentVm;
  readonly agentGateway: AgentGateway | null;
  /** The newest revoked bridge token hashes, oldest first. */
  readonly revokedBridgeTokens: readonly string[];
}

export type ActiveTenant = TenantProfile & { readonly status: 'active' };
export type SuspendedTenant = TenantProfile & { readonly status: 'suspended'; readonly suspendedReason: string };
export type LiveTenant = ActiveTenant | SuspendedTenant;
/** Erasure keeps only the id, so the slug stays retired and nothing personal survives in state. */
export type ErasedTenant = { readonly status: 'erased'; readonly tenantId: TenantId };

export type TenantState = { readonly status: 'none' } | LiveTenant | ErasedTenant;

export const initialTenantState = (): TenantState => ({ status: 'none' });

export const findApiKey = (tenant: TenantProfile, keyId: string): ApiKeyEntry | undefined =>
  Object.hasOwn(tenant.apiKeys, keyId) ? tenant.apiKeys[keyId] : undefined;

const onLive = (state: TenantState, change: (tenant: LiveTenant) => LiveTenant): TenantState =>
  state.status === 'active' || state.status === 'suspended' ? change(state) : state;

export const evolveTenant = (state: TenantState, event: TenantEvent): TenantState => {
  switch (event.type) {
    case 'TenantCreated': {
      const { tenantId, name, email, tier } = event.data;
      const agentVm: AgentVm = { status: 'none' };
      return {
        status: 'active',
        tenantId,
        name,
        email,
        tier,
        apiKeys: {},
        activeApiKeys: 0,
        telegram: null,
        whatsapp: null,
        agentVm,
        agentGateway: null,
        revokedBridgeTokens: [],
      };
    }
    case 'TenantTierChanged':
      return onLive(state, (t) => ({ ...t, tier: event.data.to }));
    case 'ApiKeyIssued': {
      const { keyId, scope } = event.data;
      return onLive(state, (t) => ({
        ...t,
        apiKeys: { ...t.apiKeys, [keyId]: { scope, status: 'active' } },
        activeApiKeys: t.activeApiKeys + (findApiKey(t, keyId)?.status === 'active' ? 0 : 1),
      }));
    }
    case 'ApiKeyRevoked':
      return onLive(state, (t) => {
        const key = findApiKey(t, event.data.keyId);
        if (!key || key.status === 'revoked') return t;
        return {
          ...t,
          apiKeys: { ...t.apiKeys, [event.data.keyId]: { ...key, status: 'revoked' } },
          activeApiKeys: t.activeApiKeys - 1,
        };
      });
    case 'TelegramBotConnected': {
      const { botUsername, botId, token, webhookSecretHash } = event.data;
      return onLive(state, (t) => ({ ...t, telegram: { botUsername, botId, token, webhookSecretHash } }));
    }
    case 'TelegramBotDisconnected':
      return onLive(state, (t) => ({ ...t, telegram: null }));
    case 'WhatsAppNumberConnected': {
      const { phoneNumberId, displayPhoneNumber, accessToken, appSecret, verifyTokenHash } = event.data;
      const whatsapp = { phoneNumberId, displayPhoneNumber, accessToken, appSecret, verifyTokenHash };
      return onLive(state, (t) => ({ ...t, whatsapp }));
    }
    case 'WhatsAppNumberDisconnected':
      return onLive(state, (t) => ({ ...t, whatsapp: null }));
    case 'AgentVmRequested':
      return onLive(state, (t) => ({ ...t, agentVm: { status: 'requested', requestId: event.data.requestId } }));
    case 'AgentVmReady': {
      const { requestId, vmId, bridgeTokenHash } = event.data;
      return onLive(state, (t) => ({ ...t, agentVm: { status: 'ready', requestId, vmId, bridgeTokenHash } }));
    }
    case 'AgentVmFailed': {
      const { requestId, stage, reason } = event.data;
      return onLive(state, (t) => ({ ...t, agentVm: { status: 'failed', requestId, stage, reason } }));
    }
    case 'AgentGatewayConnected': {
      const { url, token } = event.data;
      return onLive(state, (t) => ({ ...t, agentGateway: { url, token } }));
    }
    case 'AgentGatewayDisconnected':
      return onLive(state, (t) => ({ ...t, agentGateway: null }));
    case 'BridgeTokenRevoked': {
      const { bridgeTokenHash } = event.data;
      return onLive(state, (t) => ({
        ...t,
        agentVm: t.agentVm.status === 'ready' && t.agentVm.bridgeTokenHash === bridgeTokenHash ? { ...t.agentVm, bridgeTokenHash: null } : t.agentVm,
        revokedBridgeTokens: [...t.revokedBridgeTokens, bridgeTokenHash].slice(-REVOKED_BRIDGE_TOKENS),
      }));
    }
    case 'TenantSuspended':
      return onLive(state, (t) => ({ ...t, status: 'suspended', suspendedReason: event.data.reason }));
    case 'TenantReinstated':
      return onLive(state, (t) => {
        if (t.status !== 'suspended') return t;
        const { suspendedReason: _dropped, ...profile } = t;
        return { ...profile, status: 'active' };
      });
    case 'TenantErased':
      return state.status === 'none' ? state : { status: 'erased', tenantId: state.tenantId };
    default:
      return unreachable(event);
  }
};

/** The facts other aggregates' commands carry, derived from the tenant's own state. */
export const tenantFacts = (state: TenantState): TenantFacts =>
  state.status === 'active' || state.status === 'suspended'
    ? { status: state.status, tier: state.tier }
    : { status: state.status, tier: 'free' };
