import { domainError } from './errors.ts';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from './ids.ts';
import type { ConversationId, KnightId, TenantId } from './ids.ts';

/**
 * Stream ids carry the tenant so one tenant's history can be read across categories:
 *   tenant-<tenantId>, conversation-<tenantId>.<conversationId>, knight-<tenantId>.<knightId>,
 *   billing-<tenantId> (what billing did at Stripe and learnt from it, see docs/billing.md)
 * The category is the part before the first '-'.
 */
export const CATEGORIES = ['tenant', 'conversation', 'knight', 'billing'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface StreamName {
  readonly category: Category;
  readonly tenantId: TenantId;
  readonly entityId: string | undefined;
}

export const tenantStream = (tenantId: TenantId): string => `tenant-${tenantId}`;
export const conversationStream = (tenantId: TenantId, id: ConversationId): string => `conversation-${tenantId}.${id}`;
export const knightStream = (tenantId: TenantId, id: KnightId): string => `knight-${tenantId}.${id}`;
export const billingStream = (tenantId: TenantId): string => `billing-${tenantId}`;

const invalid = (streamId: string) =>
  domainError('validation', 'invalid_stream_id', `stream id outside the naming scheme: ${JSON.stringify(streamId.slice(0, 120))}`);

export const parseStreamId = (streamId: string): StreamName => {
  if (typeof streamId !== 'string') throw invalid(String(streamId));
  const dash = streamId.indexOf('-');
  if (dash < 0) throw invalid(streamId);
  const category = streamId.slice(0, dash);
  const rest = streamId.slice(dash + 1);
  if (category === 'tenant' || category === 'billing') {
    if (!TENANT_ID_PATTERN.test(rest)) throw invalid(streamId);
    return { category, tenantId: rest as TenantId, entityId: undefined };
  }
  if (category === 'conversation' || category === 'knight') {
    const dot = rest.indexOf('.');
    if (dot < 0) throw invalid(streamId);
    const tenantId = rest.slice(0, dot);
    const entityId = rest.slice(dot + 1);
    if (!TENANT_ID_PATTERN.test(tenantId) || !ENTITY_ID_PATTERN.test(entityId)) throw invalid(streamId);
    return { category, tenantId: tenantId as TenantId, entityId };
  }
  throw invalid(streamId);
};
