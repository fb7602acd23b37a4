import { unreachable } from '../shared/decider.ts';
import { domainError } from '../shared/errors.ts';
import type * as C from './commands.ts';
import type { TenantCommand } from './commands.ts';
import type { TenantEvent } from './events.ts';
import { tenantErased, tenantNotFound, tenantSuspended } from './facts.ts';
import { findApiKey } from './state.ts';
import type { ActiveTenant, LiveTenant, TenantState } from './state.ts';
import * as v from './validate.ts';

export const MAX_ACTIVE_API_KEYS = 20;

type Events = readonly TenantEvent[];

/** A tenant that exists and is not erased. */
const live = (state: TenantState): LiveTenant => {
  if (state.status === 'none') throw tenantNotFound();
  if (state.status === 'erased') throw tenantErased();
  return state;
};

/** A live tenant that may act: a suspended one is refused. */
const active = (state: TenantState): ActiveTenant => {
  const tenant = live(state);
  if (tenant.status === 'suspended') throw tenantSuspended();
  return tenant;
};

const createTenant = (c: C.CreateTenant, state: TenantState): Events => {
  const tenantId = v.checkTenantId(c.tenantId);
  const name = v.checkText(c.name, 1, 200, 'invalid_tenant_name', 'tenant name');
  const email = c.email === null ? null : v.checkEmail(c.email);
  const tier = v.checkTier(c.tier);
  if (state.status !== 'none')
    throw domainError('conflict', 'tenant_exists', 'a tenant with this slug exists or existed', { tenantId });
  return [{ type: 'TenantCreated', data: { tenantId, name, email, tier, at: c.at } }];
};

const changeTier = (c: C.ChangeTenantTier, t: ActiveTenant): Events => {
  const to = v.checkTier(c.tier);
  return to === t.tier ? [] : [{ type: 'TenantTierChanged', data: { from: t.tier, to, at: c.at } }];
};

const issueApiKey = (c: C.IssueApiKey, t: ActiveTenant): Events => {
  const keyId = v.checkKeyId(c.keyId);
  const scope = v.checkScope(c.scope);
  const label = v.checkText(c.label, 1, 100, 'invalid_api_key_label', 'api key label');
  const hash = v.checkHash(c.hash, 'invalid_api_key_hash', 'api key hash');
  if (findApiKey(t, keyId)) throw domainError('conflict', 'api_key_exists', 'an api key with this id exists', { keyId });
  if (t.activeApiKeys >= MAX_ACTIVE_API_KEYS)
    throw domainError('limit', 'api_key_limit', `at most ${MAX_ACTIVE_API_KEYS} active api keys`, { limit: MAX_ACTIVE_API_KEYS });
  return [{ type: 'ApiKeyIssued', data: { keyId, scope, label, hash, at: c.at } }];
};

/** Allowed while suspended, as revoking the bridge token is: cutting access must never be refused. */
const revokeApiKey = (c: C.RevokeApiKey, t: LiveTenant): Events => {
  const key = findApiKey(t, c.keyId);
  if (!key) throw domainError('not_found', 'api_key_not_found', 'api key not found');
  return key.status === 'revoked' ? [] : [{ type: 'ApiKeyRevoked', data: { keyId: c.keyId, at: c.at } }];
};

const connectTelegramBot = (c: C.ConnectTelegramBot, t: ActiveTenant): Events => {
  const bot = {
    botUsername: v.checkBotUsername(c.botUsername),
    botId: v.checkBotId(c.botId),
    token: v.checkSecret(c.token, 'invalid_bot_token', 'bot token'),
    webhookSecretHash: v.checkHash(c.webhookSecretHash, 'invalid_secret_hash', 'webhook secret hash'),
  };
  const current = t.telegram;
  if (current && (Object.keys(bot) as (keyof typeof bot)[]).every((k) => current[k] === bot[k])) return [];
  const connected: TenantEvent = { type: 'TelegramBotConnected', data: { ...bot, at: c.at } };
  // Another bot replaces the connected one: the history says the old one went.
  return current && current.botId !== bot.botId ? [{ type: 'TelegramBotDisconnected', data: { at: c.at } }, connected] : [connected];
};

const connectWhatsAppNumber = (c: C.ConnectWhatsAppNumber, t: ActiveTenant): Events => {
  const number = {
    phoneNumberId: v.checkPhoneNumberId(c.phoneNumberId),
    displayPhoneNumber: v.checkDisplayPhoneNumber(c.displayPhoneNumber),
    accessToken: v.checkSecret(c.accessToken, 'invalid_access_token', 'access token'),
    appSecret: v.checkSecret(c.appSecret, 'invalid_app_secret', 'app secret'),
    verifyTokenHash: v.checkHash(c.verifyTokenHash, 'invalid_secret_hash', 'verify token hash'),
  };
  const current = t.whatsapp;
  if (current && (Object.keys(number) as (keyof typeof number)[]).every((k) => current[k] === number[k])) return [];
  const connected: TenantEvent = { type: 'WhatsAppNumberConnected', data: { ...number, at: c.at } };
  return current && current.phoneNumberId !== number.phoneNumberId
    ? [{ type: 'WhatsAppNumberDisconnected', data: { at: c.at } }, connected]
    : [connected];
};

/**
 * The first request, a retry after a failure, or a ready VM whose bridge token was revoked (it is
 * provisioned anew with a fresh token; without this the tenant's agent stayed cut off for good).
 * While one is in progress, or ready with a live token, already satisfied.
 */
const requestAgentVm = (c: C.RequestAgentVm, t: ActiveTenant): Events => {
  const requestId = v.checkToken(c.requestId, 1, 128, 'invalid_request_id', 'request id');
  const vm = t.agentVm;
  const wanted = vm.status === 'none' || vm.status === 'failed' || (vm.status === 'ready' && vm.bridgeTokenHash === null);
  return wanted ? [{ type: 'AgentVmRequested', data: { requestId, at: c.at } }] : [];
};

/** The current request, or the reason it cannot be reported on. */
const currentRequest = (t: LiveTenant, requestId: string) => {
  const vm = t.agentVm;
  if (vm.status === 'none') throw domainError('conflict', 'agent_vm_not_requested', 'no agent vm was requested');
  if (vm.requestId !== requestId)
    throw domainError('conflict', 'agent_vm_request_mismatch', 'another agent vm request is current', { requestId: vm.requestId });
  return vm;
};

const markAgentVmReady = (c: C.MarkAgentVmReady, t: LiveTenant): Events => {
  const vmId = v.checkToken(c.vmId, 1, 128, 'invalid_vm_id', 'vm id');
  const bridgeTokenHash = v.checkHash(c.bridgeTokenHash, 'invalid_token_hash', 'bridge token hash');
  const vm = currentRequest(t, c.requestId);
  switch (vm.status) {
    case 'requested':
      return [{ type: 'AgentVmReady', data: { requestId: vm.requestId, vmId, bridgeTokenHash, at: c.at } }];
    case 'ready':
      if (vm.vmId === vmId) return [];
      throw domainError('conflict', 'agent_vm_already_ready', 'this request is already ready with another vm', { vmId: vm.vmId });
    case 'failed':
      throw domainError('conflict', 'agent_vm_failed', 'this request has failed; request the agent vm again');
    default:
      return unreachable(vm);
  }
};

const failAgentVm = (c: C.FailAgentVm, t: LiveTenant): Events => {
  const stage = v.checkAgentVmStage(c.stage);
  const reason = v.checkText(c.reason, 1, 500, 'invalid_reason', 'reason');
  const vm = currentRequest(t, c.requestId);
  switch (vm.status) {
    case 'requested':
      if (stage === 'vm_lost') throw domainError('conflict', 'agent_vm_not_ready', 'only a ready agent vm can be lost');
      return [{ type: 'AgentVmFailed', data: { requestId: vm.requestId, stage, reason, at: c.at } }];
    case 'failed':
      return [];
    case 'ready':
      // a ready VM can only be lost: its computer vanished at the provider (deleted out of band)
      if (stage === 'vm_lost') return [{ type: 'AgentVmFailed', data: { requestId: vm.requestId, stage, reason, at: c.at } }];
      throw domainError('conflict', 'agent_vm_already_ready', 'this request is ready; it can only fail as vm_lost', { vmId: vm.vmId });
    default:
      return unreachable(vm);
  }
};

const connectAgentGateway = (c: C.ConnectAgentGateway, t: ActiveTenant): Events => {
  const url = c.url === null ? null : v.checkGatewayUrl(c.url);
  const token = v.checkSecret(c.token, 'invalid_gateway_token', 'gateway token');
  if (t.agentGateway && t.agentGateway.url === url && t.agentGateway.token === token) return [];
  return [{ type: 'AgentGatewayConnected', data: { url, token, at: c.at } }];
};

/** Revokes the agent VM's current bridge token; allowed while suspended (cutting access must never be refused). */
const revokeBridgeToken = (c: C.RevokeBridgeToken, t: LiveTenant): Events => {
  const reason = v.checkText(c.reason, 1, 500, 'invalid_reason', 'reason');
  const vm = t.agentVm;
  if (vm.status !== 'ready' || vm.bridgeTokenHash === null) {
    if (vm.status === 'ready' && t.revokedBridgeTokens.length > 0) return [];
    throw domainError('conflict', 'no_bridge_token', 'the agent vm has no bridge token to revoke');
  }
  return [{ type: 'BridgeTokenRevoked', data: { bridgeTokenHash: vm.bridgeTokenHash, reason, at: c.at } }];
};

/**
 * A suspension for another reason while suspended is recorded too: the latest reason is what a
 * reinstatement is judged by (billing lifts only its own), so an operator's suspension of a tenant
 * billing had suspended is not undone by the next paid invoice.
 */
const suspend = (c: C.SuspendTenant, t: LiveTenant): Events => {
  const reason = v.checkText(c.reason, 1, 500, 'invalid_reason', 'reason');
  return t.status === 'suspended' && t.suspendedReason === reason ? [] : [{ type: 'TenantSuspended', data: { reason, at: c.at } }];
};

const reinstate = (c: C.ReinstateTenant, t: LiveTenant): Events =>
  t.status === 'active' ? [] : [{ type: 'TenantReinstated', data: { at: c.at } }];

/** Erasure is a legal obligation: allowed while suspended, and a repeat is already satisfied. */
const erase = (c: C.EraseTenant, state: TenantState): Events => {
  if (state.status === 'none') throw tenantNotFound();
  return state.status === 'erased' ? [] : [{ type: 'TenantErased', data: { at: c.at } }];
};

export const decideTenant = (command: TenantCommand, state: TenantState): Events => {
  switch (command.type) {
    case 'CreateTenant':
      return createTenant(command, state);
    case 'ChangeTenantTier':
      return changeTier(command, active(state));
    case 'IssueApiKey':
      return issueApiKey(command, active(state));
    case 'RevokeApiKey':
      return revokeApiKey(command, live(state));
    case 'ConnectTelegramBot':
      return connectTelegramBot(command, active(state));
    case 'DisconnectTelegramBot':
      return active(state).telegram ? [{ type: 'TelegramBotDisconnected', data: { at: command.at } }] : [];
    case 'ConnectWhatsAppNumber':
      return connectWhatsAppNumber(command, active(state));
    case 'DisconnectWhatsAppNumber':
      return active(state).whatsapp ? [{ type: 'WhatsAppNumberDisconnected', data: { at: command.at } }] : [];
    case 'RequestAgentVm':
      return requestAgentVm(command, active(state));
    case 'MarkAgentVmReady':
      return markAgentVmReady(command, live(state));
    case 'FailAgentVm':
      return failAgentVm(command, live(state));
    case 'ConnectAgentGateway':
      return connectAgentGateway(command, active(state));
    case 'DisconnectAgentGateway':
      return active(state).agentGateway ? [{ type: 'AgentGatewayDisconnected', data: { at: command.at } }] : [];
    case 'RevokeBridgeToken':
      return revokeBridgeToken(command, live(state));
    case 'SuspendTenant':
      return suspend(command, live(state));
    case 'ReinstateTenant':
      return reinstate(command, live(state));
    case 'EraseTenant':
      return erase(command, state);
    default:
      return unreachable(command);
  }
};
