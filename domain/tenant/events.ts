import type { DomainEvent } from '../shared/decider.ts';
import type { TenantId } from '../shared/ids.ts';
import type { Tier } from '../tiers.ts';

export const API_KEY_SCOPES = ['tenant', 'auditor'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * Where an agent VM failed: getting its computer running, installing and starting OpenClaw and the bridge,
 * or (`vm_lost`) once ready, its computer gone at the provider (the reconciliation finds it missing).
 */
export const AGENT_VM_FAILURE_STAGES = ['provisioning', 'bootstrap', 'vm_lost'] as const;
export type AgentVmFailureStage = (typeof AGENT_VM_FAILURE_STAGES)[number];

type Event<Type extends string, Data> = DomainEvent<Type, Readonly<Data> & { readonly at: string }>;
type NoData = Record<never, never>;

/** v2 added `email` (null for tenants created before it existed). */
export type TenantCreated = Event<'TenantCreated', { tenantId: TenantId; name: string; email: string | null; tier: Tier }>;
export type TenantTierChanged = Event<'TenantTierChanged', { from: Tier; to: Tier }>;
/** `hash` is computed outside the domain; the plaintext key is never recorded. */
export type ApiKeyIssued = Event<'ApiKeyIssued', { keyId: string; scope: ApiKeyScope; label: string; hash: string }>;
export type ApiKeyRevoked = Event<'ApiKeyRevoked', { keyId: string }>;
export type TelegramBotConnected = Event<
  'TelegramBotConnected',
  /** `token` is a secret field: the codec encrypts it under the tenant's key. */
  { botUsername: string; botId: number; token: string; webhookSecretHash: string }
>;
export type TelegramBotDisconnected = Event<'TelegramBotDisconnected', NoData>;
export type WhatsAppNumberConnected = Event<
  'WhatsAppNumberConnected',
  {
    phoneNumberId: string;
    displayPhoneNumber: string;
    /** Secret fields: the codec encrypts them under the tenant's key. */
    accessToken: string;
    appSecret: string;
    verifyTokenHash: string;
  }
>;
export type WhatsAppNumberDisconnected = Event<'WhatsAppNumberDisconnected', NoData>;
export type AgentVmRequested = Event<'AgentVmRequested', { requestId: string }>;
/**
 * `bridgeTokenHash`: the hash of the token the VM's bridge was handed (the token itself is never
 * recorded); null for VMs made before bridges had tokens.
 */
export type AgentVmReady = Event<'AgentVmReady', { requestId: string; vmId: string; bridgeTokenHash: string | null }>;
export type AgentVmFailed = Event<'AgentVmFailed', { requestId: string; stage: AgentVmFailureStage; reason: string }>;
/**
 * The tenant's own OpenClaw gateway, reached over its OpenAI-compatible HTTP API: `url` null means
 * the platform's configured gateway (OPENCLAW_GATEWAY_URL). `token` is a secret field.
 */
export type AgentGatewayConnected = Event<'AgentGatewayConnected', { url: string | null; token: string }>;
export type AgentGatewayDisconnected = Event<'AgentGatewayDisconnected', NoData>;
/** The agent VM's bridge token may no longer connect (a new one comes with the next provisioning). */
export type BridgeTokenRevoked = Event<'BridgeTokenRevoked', { bridgeTokenHash: string; reason: string }>;
/**
 * `reason`: an operator's free text (or billing's fixed one), which may carry personal data: a
 * personal field, sealed under the tenant's key like a name (it reads as the erased marker after erasure).
 */
export type TenantSuspended = Event<'TenantSuspended', { reason: string }>;
export type TenantReinstated = Event<'TenantReinstated', NoData>;
export type TenantErased = Event<'TenantErased', NoData>;

export type TenantEvent =
  | TenantCreated
  | TenantTierChanged
  | ApiKeyIssued
  | ApiKeyRevoked
  | TelegramBotConnected
  | TelegramBotDisconnected
  | WhatsAppNumberConnected
  | WhatsAppNumberDisconnected
  | AgentVmRequested
  | AgentVmReady
  | AgentVmFailed
  | AgentGatewayConnected
  | AgentGatewayDisconnected
  | BridgeTokenRevoked
  | TenantSuspended
  | TenantReinstated
  | TenantErased;

/** Every event type name; the `satisfies` fails to compile when one is missing or unknown. */
export const TENANT_EVENT_TYPES = Object.keys({
  TenantCreated: true,
  TenantTierChanged: true,
  ApiKeyIssued: true,
  ApiKeyRevoked: true,
  TelegramBotConnected: true,
  TelegramBotDisconnected: true,
  WhatsAppNumberConnected: true,
  WhatsAppNumberDisconnected: true,
  AgentVmRequested: true,
  AgentVmReady: true,
  AgentVmFailed: true,
  AgentGatewayConnected: true,
  AgentGatewayDisconnected: true,
  BridgeTokenRevoked: true,
  TenantSuspended: true,
  TenantReinstated: true,
  TenantErased: true,
} satisfies Record<TenantEvent['type'], true>) as readonly TenantEvent['type'][];
