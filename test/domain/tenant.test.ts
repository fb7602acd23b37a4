import { describe, expect, it } from 'vitest';
import { asTenantId } from '../../domain/shared/ids.ts';
import { MAX_ACTIVE_API_KEYS, tenantDecider, tenantFacts } from '../../domain/tenant/index.ts';
import type { TenantCommand, TenantEvent } from '../../domain/tenant/index.ts';
import { fold } from '../../domain/shared/decider.ts';
import { spec } from '../support/decider-spec.ts';

const at = '2025-03-01T10:00:00.000Z';
const later = '2025-03-02T10:00:00.000Z';
const tenantId = asTenantId('acme');
const given = spec(tenantDecider).given;

const created: TenantEvent = { type: 'TenantCreated', data: { tenantId, name: 'Acme Inc', email: null, tier: 'free', at } };
const suspended: TenantEvent = { type: 'TenantSuspended', data: { reason: 'unpaid invoice', at } };
const erased: TenantEvent = { type: 'TenantErased', data: { at } };
const keyIssued = (keyId: string): TenantEvent => ({
  type: 'ApiKeyIssued',
  data: { keyId, scope: 'tenant', label: `key ${keyId}`, hash: `sha256:${keyId.padEnd(64, '0')}`, at },
});
const issueKey = (keyId: string): TenantCommand => ({
  type: 'IssueApiKey',
  keyId,
  scope: 'tenant',
  label: `key ${keyId}`,
  hash: `sha256:${keyId.padEnd(64, '0')}`,
  at,
});
const bot = { botUsername: 'acme_bot', botId: 7001, token: '7001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', webhookSecretHash: 'sha256:'.padEnd(40, 'a') };
const botConnected: TenantEvent = { type: 'TelegramBotConnected', data: { ...bot, at } };
const number = {
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '+1 555 0100',
  accessToken: 'EAAGm0PX4ZCpsBA',
  appSecret: 'a1b2c3d4e5f6',
  verifyTokenHash: 'sha256:'.padEnd(40, 'b'),
};
const numberConnected: TenantEvent = { type: 'WhatsAppNumberConnected', data: { ...number, at } };
const vmRequested: TenantEvent = { type: 'AgentVmRequested', data: { requestId: 'req-1', at } };
const TOKEN_HASH = 'sha256:5f2b9c1d8e7a6b3c4d5e6f708192a3b4';
const vmReady: TenantEvent = { type: 'AgentVmReady', data: { requestId: 'req-1', vmId: 'vm-1', bridgeTokenHash: TOKEN_HASH, at } };
const vmFailed: TenantEvent = { type: 'AgentVmFailed', data: { requestId: 'req-1', stage: 'bootstrap', reason: 'npm exited with 1', at } };

describe('CreateTenant', () => {
  const create: TenantCommand = { type: 'CreateTenant', tenantId, name: '  Acme Inc ', email: null, tier: 'free', at };

  it('creates a tenant with a trimmed name', () => given([]).when(create).then([created]));
  it('records the email when one is given, and refuses a malformed one', () => {
    given([]).when({ ...create, email: 'ops@acme.example' }).then([{ type: 'TenantCreated', data: { ...created.data, email: 'ops@acme.example' } } as TenantEvent]);
    given([]).when({ ...create, email: 'not an email' }).thenThrows('invalid_email');
  });
  it('refuses a slug that is taken', () => given([created]).when(create).thenThrows('tenant_exists'));
  it('keeps the slug of an erased tenant retired', () => given([created, erased]).when(create).thenThrows('tenant_exists'));
  it('refuses a blank or overlong name', () => {
    given([]).when({ ...create, name: '   ' }).thenThrows('invalid_tenant_name');
    given([]).when({ ...create, name: 'x'.repeat(201) }).thenThrows('invalid_tenant_name');
  });
  it('refuses a malformed slug and an unknown tier', () => {
    given([]).when({ ...create, tenantId: 'Not A Slug' as typeof tenantId }).thenThrows('invalid_tenant_id');
    given([]).when({ ...create, tier: 'gold' as 'free' }).thenThrows('invalid_tier');
  });
});

describe('commands on a tenant that is missing, erased or suspended', () => {
  const tier: TenantCommand = { type: 'ChangeTenantTier', tier: 'pro', at };

  it('refuses a missing tenant', () => given([]).when(tier).thenThrows('tenant_not_found'));
  it('refuses an erased tenant', () => given([created, erased]).when(tier).thenThrows('tenant_erased'));
  it('refuses tenant work while suspended', () => {
    const error = given([created, suspended]).when(tier).thenThrows('tenant_suspended');
    expect(error.kind).toBe('forbidden');
    given([created, suspended]).when(issueKey('k1')).thenThrows('tenant_suspended');
    given([created, suspended]).when({ type: 'RequestAgentVm', requestId: 'req-1', at }).thenThrows('tenant_suspended');
  });
});

describe('ChangeTenantTier', () => {
  it('records the old and new tier', () =>
    given([created])
      .when({ type: 'ChangeTenantTier', tier: 'pro', at: later })
      .then([{ type: 'TenantTierChanged', data: { from: 'free', to: 'pro', at: later } }]));
  it('is a no-op for the same tier', () => given([created]).when({ type: 'ChangeTenantTier', tier: 'free', at }).thenNothing());
});

describe('IssueApiKey and RevokeApiKey', () => {
  it('issues a key', () => given([created]).when(issueKey('k1')).then([keyIssued('k1')]));
  it('refuses a key id that exists, even revoked', () => {
    given([created, keyIssued('k1')]).when(issueKey('k1')).thenThrows('api_key_exists');
    const revoked: TenantEvent = { type: 'ApiKeyRevoked', data: { keyId: 'k1', at } };
    given([created, keyIssued('k1'), revoked]).when(issueKey('k1')).thenThrows('api_key_exists');
  });
  it(`allows at most ${MAX_ACTIVE_API_KEYS} active keys`, () => {
    const twenty = Array.from({ length: MAX_ACTIVE_API_KEYS }, (_, i) => keyIssued(`k${i}`));
    expect(given([created, ...twenty]).when(issueKey('one-more')).thenThrows('api_key_limit').kind).toBe('limit');
    const revoked: TenantEvent = { type: 'ApiKeyRevoked', data: { keyId: 'k3', at } };
    given([created, ...twenty, revoked]).when(issueKey('one-more')).then([keyIssued('one-more')]);
  });
  it('refuses a malformed key', () => {
    given([created]).when({ ...issueKey('k1'), hash: 'short' } as TenantCommand).thenThrows('invalid_api_key_hash');
    given([created]).when({ ...issueKey('k1'), scope: 'operator' } as unknown as TenantCommand).thenThrows('invalid_api_key_scope');
    given([created]).when({ ...issueKey('k1'), label: '' } as TenantCommand).thenThrows('invalid_api_key_label');
  });
  it('revokes a key, and a second revoke is a no-op', () => {
    const revoked: TenantEvent = { type: 'ApiKeyRevoked', data: { keyId: 'k1', at } };
    given([created, keyIssued('k1')]).when({ type: 'RevokeApiKey', keyId: 'k1', at }).then([revoked]);
    given([created, keyIssued('k1'), revoked]).when({ type: 'RevokeApiKey', keyId: 'k1', at }).thenNothing();
  });
  it('revokes a key while suspended (cutting access is never refused)', () => {
    const revoked: TenantEvent = { type: 'ApiKeyRevoked', data: { keyId: 'k1', at } };
    given([created, keyIssued('k1'), suspended]).when({ type: 'RevokeApiKey', keyId: 'k1', at }).then([revoked]);
  });
  it('refuses to revoke an unknown key', () => {
    given([created]).when({ type: 'RevokeApiKey', keyId: 'nope', at }).thenThrows('api_key_not_found');
    given([created]).when({ type: 'RevokeApiKey', keyId: 'constructor', at }).thenThrows('api_key_not_found');
  });
});

describe('Telegram bot', () => {
  const connect: TenantCommand = { type: 'ConnectTelegramBot', ...bot, at };

  it('connects a bot', () => given([created]).when(connect).then([botConnected]));
  it('is a no-op to connect the same bot with the same fields', () => given([created, botConnected]).when(connect).thenNothing());
  it('records a rotated token for the same bot', () =>
    given([created, botConnected])
      .when({ ...connect, token: '7001:ROTATEDcvCH1vGWJxfSeofSAs0K5PALDsaw' } as TenantCommand)
      .then([{ type: 'TelegramBotConnected', data: { ...bot, token: '7001:ROTATEDcvCH1vGWJxfSeofSAs0K5PALDsaw', at } }]));
  it('replaces the connected bot with another: the old one is recorded as disconnected first', () =>
    given([created, botConnected])
      .when({ ...connect, botId: 9999, botUsername: 'other_bot' } as TenantCommand)
      .then([
        { type: 'TelegramBotDisconnected', data: { at } },
        { type: 'TelegramBotConnected', data: { ...bot, botId: 9999, botUsername: 'other_bot', at } },
      ]));
  it('refuses a token with spaces or control characters', () =>
    given([created]).when({ ...connect, token: 'not a token' } as TenantCommand).thenThrows('invalid_bot_token'));
  it('refuses a malformed username', () =>
    given([created]).when({ ...connect, botUsername: 'x' } as TenantCommand).thenThrows('invalid_bot_username'));
  it('disconnects, and disconnecting nothing is a no-op', () => {
    given([created, botConnected]).when({ type: 'DisconnectTelegramBot', at }).then([{ type: 'TelegramBotDisconnected', data: { at } }]);
    given([created]).when({ type: 'DisconnectTelegramBot', at }).thenNothing();
  });
});

describe('WhatsApp number', () => {
  const connect: TenantCommand = { type: 'ConnectWhatsAppNumber', ...number, at };

  it('connects a number', () => given([created]).when(connect).then([numberConnected]));
  it('is a no-op to connect the same number again', () => given([created, numberConnected]).when(connect).thenNothing());
  it('replaces the connected number with another', () =>
    given([created, numberConnected])
      .when({ ...connect, phoneNumberId: '999' } as TenantCommand)
      .then([
        { type: 'WhatsAppNumberDisconnected', data: { at } },
        { type: 'WhatsAppNumberConnected', data: { ...number, phoneNumberId: '999', at } },
      ]));
  it('refuses a malformed phone number id', () =>
    given([created]).when({ ...connect, phoneNumberId: 'abc' } as TenantCommand).thenThrows('invalid_phone_number_id'));
  it('disconnects, and disconnecting nothing is a no-op', () => {
    given([created, numberConnected])
      .when({ type: 'DisconnectWhatsAppNumber', at })
      .then([{ type: 'WhatsAppNumberDisconnected', data: { at } }]);
    given([created]).when({ type: 'DisconnectWhatsAppNumber', at }).thenNothing();
  });
});

describe('agent VM', () => {
  const ready: TenantCommand = { type: 'MarkAgentVmReady', requestId: 'req-1', vmId: 'vm-1', bridgeTokenHash: TOKEN_HASH, at };
  const fail: TenantCommand = { type: 'FailAgentVm', requestId: 'req-1', stage: 'bootstrap', reason: 'npm exited with 1', at };

  it('requests a VM once', () => {
    given([created]).when({ type: 'RequestAgentVm', requestId: 'req-1', at }).then([vmRequested]);
    given([created, vmRequested]).when({ type: 'RequestAgentVm', requestId: 'req-2', at }).thenNothing();
    given([created, vmRequested, vmReady]).when({ type: 'RequestAgentVm', requestId: 'req-2', at }).thenNothing();
  });
  it('marks the VM ready, also while suspended, and a repeat is a no-op', () => {
    given([created, vmRequested]).when(ready).then([vmReady]);
    given([created, vmRequested, suspended]).when(ready).then([vmReady]);
    given([created, vmRequested, vmReady]).when(ready).thenNothing();
  });
  it('refuses a ready report nobody asked for', () => {
    given([created]).when(ready).thenThrows('agent_vm_not_requested');
    given([created, vmRequested]).when({ ...ready, requestId: 'req-9' } as TenantCommand).thenThrows('agent_vm_request_mismatch');
    given([created, vmRequested, vmReady]).when({ ...ready, vmId: 'vm-2' } as TenantCommand).thenThrows('agent_vm_already_ready');
  });
  it('keeps only the hash of the bridge token, and refuses something that is not one', () => {
    const state = given([created, vmRequested]).when(ready).then([vmReady]);
    expect(state).toMatchObject({ agentVm: { status: 'ready', vmId: 'vm-1', bridgeTokenHash: TOKEN_HASH } });
    given([created, vmRequested]).when({ ...ready, bridgeTokenHash: 'short' } as TenantCommand).thenThrows('invalid_token_hash');
  });
  it('records why a VM failed, once, also while suspended', () => {
    const state = given([created, vmRequested]).when(fail).then([vmFailed]);
    expect(state).toMatchObject({ agentVm: { status: 'failed', stage: 'bootstrap', reason: 'npm exited with 1' } });
    given([created, vmRequested, suspended]).when(fail).then([vmFailed]);
    given([created, vmRequested, vmFailed]).when(fail).thenNothing();
    given([created, vmRequested, vmReady]).when(fail).thenThrows('agent_vm_already_ready');
    given([created, vmRequested, vmFailed]).when(ready).thenThrows('agent_vm_failed');
    given([created, vmRequested]).when({ ...fail, stage: 'lunch' } as never).thenThrows('invalid_failure_stage');
  });
  it('a ready VM can fail only as lost (its computer gone at the provider); then a new request retries it', () => {
    const lost: TenantCommand = { type: 'FailAgentVm', requestId: 'req-1', stage: 'vm_lost', reason: 'the computer is gone', at };
    const lostEvent = { type: 'AgentVmFailed', data: { requestId: 'req-1', stage: 'vm_lost', reason: 'the computer is gone', at } } as const;
    const state = given([created, vmRequested, vmReady]).when(lost).then([lostEvent]);
    expect(state).toMatchObject({ agentVm: { status: 'failed', stage: 'vm_lost' } });
    given([created, vmRequested, vmReady, suspended]).when(lost).then([lostEvent]);
    given([created, vmRequested, vmReady, lostEvent]).when(lost).thenNothing();
    given([created, vmRequested]).when(lost).thenThrows('agent_vm_not_ready'); // still being provisioned: the saga's to judge
    given([created, vmRequested, vmReady]).when({ ...lost, requestId: 'req-0' } as TenantCommand).thenThrows('agent_vm_request_mismatch');
    given([created, vmRequested, vmReady, lostEvent]).when({ type: 'RequestAgentVm', requestId: 'req-2', at }).then([{ type: 'AgentVmRequested', data: { requestId: 'req-2', at } }]);
  });
  it('retries a failed VM with a new request, which then is the current one', () => {
    const retry: TenantCommand = { type: 'RequestAgentVm', requestId: 'req-2', at };
    const state = given([created, vmRequested, vmFailed]).when(retry).then([{ type: 'AgentVmRequested', data: { requestId: 'req-2', at } }]);
    expect(state).toMatchObject({ agentVm: { status: 'requested', requestId: 'req-2' } });
    given([created, vmRequested, vmFailed, { type: 'AgentVmRequested', data: { requestId: 'req-2', at } }]).when(ready).thenThrows('agent_vm_request_mismatch');
  });
});

describe('SuspendTenant, ReinstateTenant, EraseTenant', () => {
  it('suspends, and a second suspension for the same reason is a no-op', () => {
    given([created]).when({ type: 'SuspendTenant', reason: 'unpaid invoice', at }).then([suspended]);
    given([created, suspended]).when({ type: 'SuspendTenant', reason: 'unpaid invoice', at: later }).thenNothing();
  });
  it('records a suspension for another reason while suspended: the reason a reinstatement is judged by is the latest', () => {
    const state = given([created, suspended])
      .when({ type: 'SuspendTenant', reason: 'abuse report', at: later })
      .then([{ type: 'TenantSuspended', data: { reason: 'abuse report', at: later } }]);
    expect(state.status === 'suspended' && state.suspendedReason).toBe('abuse report');
  });
  it('refuses a suspension without a reason', () =>
    given([created]).when({ type: 'SuspendTenant', reason: ' ', at }).thenThrows('invalid_reason'));
  it('reinstates a suspended tenant; reinstating an active one is a no-op', () => {
    const state = given([created, suspended]).when({ type: 'ReinstateTenant', at }).then([{ type: 'TenantReinstated', data: { at } }]);
    expect(state.status).toBe('active');
    given([created]).when({ type: 'ReinstateTenant', at }).thenNothing();
  });
  it('erases, also while suspended, forgetting everything but the id', () => {
    const state = given([created, keyIssued('k1'), botConnected, suspended]).when({ type: 'EraseTenant', at }).then([erased]);
    expect(state).toEqual({ status: 'erased', tenantId });
    given([created, erased]).when({ type: 'EraseTenant', at }).thenNothing();
    given([]).when({ type: 'EraseTenant', at }).thenThrows('tenant_not_found');
  });
  it('refuses to reinstate an erased tenant', () =>
    given([created, erased]).when({ type: 'ReinstateTenant', at }).thenThrows('tenant_erased'));
});

describe('tenantFacts', () => {
  it('derives the facts other aggregates need', () => {
    expect(tenantFacts(fold(tenantDecider, []))).toEqual({ status: 'none', tier: 'free' });
    const pro: TenantEvent = { type: 'TenantTierChanged', data: { from: 'free', to: 'pro', at } };
    expect(tenantFacts(fold(tenantDecider, [created, pro, suspended]))).toEqual({ status: 'suspended', tier: 'pro' });
  });
});
