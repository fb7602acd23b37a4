import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../shared/ids.ts';

/**
 * Computer names carry their owner, so a create whose answer was lost is found by name instead of
 * being repeated, and reconciliation can tell this platform's computers (and whose they are) from
 * anyone else's in the workspace:
 *   <prefix>-k-<tenantId>.<knightId>   a knight
 *   <prefix>-a-<tenantId>.<requestId>  a tenant's agent VM, per request (a retry gets a new one)
 *   <prefix>-w-<id>                    a warm computer not claimed yet
 */
export type ComputerOwner =
  | { readonly kind: 'knight'; readonly tenantId: string; readonly knightId: string }
  | { readonly kind: 'agent'; readonly tenantId: string; readonly requestId: string }
  | { readonly kind: 'warm'; readonly id: string };

export const NAME_PREFIX_PATTERN = /^[a-z][a-z0-9]{1,11}$/;

export const knightComputerName = (prefix: string, tenantId: string, knightId: string) => `${prefix}-k-${tenantId}.${knightId}`;
export const agentComputerName = (prefix: string, tenantId: string, requestId: string) => `${prefix}-a-${tenantId}.${requestId}`;
export const warmComputerName = (prefix: string, id: string) => `${prefix}-w-${id}`;

/** The owner a name of ours stands for, or undefined for anyone else's computer. */
export const ownerOfComputer = (prefix: string, name: string): ComputerOwner | undefined => {
  if (!name.startsWith(`${prefix}-`) || name.length < prefix.length + 4 || name[prefix.length + 2] !== '-') return undefined;
  const kind = name[prefix.length + 1];
  const rest = name.slice(prefix.length + 3);
  if (kind === 'w') return ENTITY_ID_PATTERN.test(rest) ? { kind: 'warm', id: rest } : undefined;
  const dot = rest.indexOf('.');
  const tenantId = rest.slice(0, dot);
  const id = rest.slice(dot + 1);
  if (dot < 0 || !TENANT_ID_PATTERN.test(tenantId) || !ENTITY_ID_PATTERN.test(id)) return undefined;
  if (kind === 'k') return { kind: 'knight', tenantId, knightId: id };
  if (kind === 'a') return { kind: 'agent', tenantId, requestId: id };
  return undefined;
};
