import { z } from 'zod';
import { AGENT_VM_FAILURE_STAGES, API_KEY_SCOPES } from '../../../domain/tenant/events.ts';
import type { TenantEvent } from '../../../domain/tenant/events.ts';
import { TIERS } from '../../../domain/tiers.ts';
import { defineCatalog, instant, olderVersion } from '../catalog.ts';
import { sealed, tenantId, token } from './common.ts';

const tier = z.enum(TIERS);
const at = instant;
const nothing = z.strictObject({ at });

export const tenantCatalog = defineCatalog<TenantEvent>('tenant', {
  TenantCreated: {
    schema: z.strictObject({ tenantId, name: sealed, email: sealed.nullable(), tier, at }),
    personal: ['name', 'email'],
    older: [
      // v1 had no email
      olderVersion(z.strictObject({ tenantId, name: sealed, tier, at }), (v1) => ({ ...v1, email: null })),
    ],
  },
  TenantTierChanged: { schema: z.strictObject({ from: tier, to: tier, at }) },
  ApiKeyIssued: {
    schema: z.strictObject({ keyId: token, scope: z.enum(API_KEY_SCOPES), label: z.string().max(200), hash: token, at }),
    hidden: ['hash'],
  },
  ApiKeyRevoked: { schema: z.strictObject({ keyId: token, at }) },
  TelegramBotConnected: {
    schema: z.strictObject({ botUsername: token, botId: z.number().int().positive(), token: sealed, webhookSecretHash: token, at }),
    secret: ['token'],
    hidden: ['webhookSecretHash'],
  },
  TelegramBotDisconnected: { schema: nothing },
  WhatsAppNumberConnected: {
    schema: z.strictObject({
      phoneNumberId: token,
      displayPhoneNumber: sealed,
      accessToken: sealed,
      appSecret: sealed,
      verifyTokenHash: token,
      at,
    }),
    personal: ['displayPhoneNumber'],
    secret: ['accessToken', 'appSecret'],
    hidden: ['verifyTokenHash'],
  },
  WhatsAppNumberDisconnected: { schema: nothing },
  AgentVmRequested: { schema: z.strictObject({ requestId: token, at }) },
  AgentVmReady: {
    schema: z.strictObject({ requestId: token, vmId: token, bridgeTokenHash: token.nullable(), at }),
    // v1 handed no bridge token
    older: [olderVersion(z.strictObject({ requestId: token, vmId: token, at }), (v1) => ({ ...v1, bridgeTokenHash: null }))],
    hidden: ['bridgeTokenHash'],
  },
  AgentVmFailed: { schema: z.strictObject({ requestId: token, stage: z.enum(AGENT_VM_FAILURE_STAGES), reason: z.string().max(2000), at }) },
  AgentGatewayConnected: {
    schema: z.strictObject({ url: z.string().url().max(2000).nullable(), token: sealed, at }),
    secret: ['token'],
  },
  AgentGatewayDisconnected: { schema: nothing },
  BridgeTokenRevoked: { schema: z.strictObject({ bridgeTokenHash: token, reason: z.string().max(500), at }), hidden: ['bridgeTokenHash'] },
  // the operator's free text may name a person ("customer John Smith disputed…"); events before it was sealed read as they are
  TenantSuspended: { schema: z.strictObject({ reason: sealed, at }), personal: ['reason'] },
  TenantReinstated: { schema: nothing },
  TenantErased: { schema: nothing },
});
