import type { TenantId } from '../shared/ids.ts';
import type { Tier } from '../tiers.ts';
import type { AgentVmFailureStage, ApiKeyScope } from './events.ts';

type Command<Type extends string, Data = Record<never, never>> = Readonly<Data> & {
  readonly type: Type;
  readonly at: string;
};

export type CreateTenant = Command<'CreateTenant', { tenantId: TenantId; name: string; email: string | null; tier: Tier }>;
export type ChangeTenantTier = Command<'ChangeTenantTier', { tier: Tier }>;
/** `hash` is the stored form of the key, computed by the caller; the plaintext never reaches the domain. */
export type IssueApiKey = Command<'IssueApiKey', { keyId: string; scope: ApiKeyScope; label: string; hash: string }>;
export type RevokeApiKey = Command<'RevokeApiKey', { keyId: string }>;
export type ConnectTelegramBot = Command<
  'ConnectTelegramBot',
  { botUsername: string; botId: number; token: string; webhookSecretHash: string }
>;
export type DisconnectTelegramBot = Command<'DisconnectTelegramBot'>;
export type ConnectWhatsAppNumber = Command<
  'ConnectWhatsAppNumber',
  {
    phoneNumberId: string;
    displayPhoneNumber: string;
    accessToken: string;
    appSecret: string;
    verifyTokenHash: string;
  }
>;
export type DisconnectWhatsAppNumber = Command<'DisconnectWhatsAppNumber'>;
/** Asks for the tenant's agent VM; after a failure, asks again (a retry) with a new request id. */
export type RequestAgentVm = Command<'RequestAgentVm', { requestId: string }>;
export type MarkAgentVmReady = Command<'MarkAgentVmReady', { requestId: string; vmId: string; bridgeTokenHash: string }>;
export type FailAgentVm = Command<'FailAgentVm', { requestId: string; stage: AgentVmFailureStage; reason: string }>;
export type ConnectAgentGateway = Command<'ConnectAgentGateway', { url: string | null; token: string }>;
export type DisconnectAgentGateway = Command<'DisconnectAgentGateway'>;
export type RevokeBridgeToken = Command<'RevokeBridgeToken', { reason: string }>;
export type SuspendTenant = Command<'SuspendTenant', { reason: string }>;
export type ReinstateTenant = Command<'ReinstateTenant'>;
export type EraseTenant = Command<'EraseTenant'>;

export type TenantCommand =
  | CreateTenant
  | ChangeTenantTier
  | IssueApiKey
  | RevokeApiKey
  | ConnectTelegramBot
  | DisconnectTelegramBot
  | ConnectWhatsAppNumber
  | DisconnectWhatsAppNumber
  | RequestAgentVm
  | MarkAgentVmReady
  | FailAgentVm
  | ConnectAgentGateway
  | DisconnectAgentGateway
  | RevokeBridgeToken
  | SuspendTenant
  | ReinstateTenant
  | EraseTenant;
