import type { TenantId } from '../../domain/shared/ids.ts';

/**
 * operator: the platform (tenants' lifecycle, keys for any tenant); tenant: its own data and
 * commands; auditor: read-only (GET routes) on its own tenant.
 */
export const SCOPES = ['operator', 'tenant', 'auditor'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who a verified credential speaks for. The tenant always comes from here, never from a body. */
export type Principal =
  | { readonly scope: 'operator'; readonly keyId: string; readonly tenantId: null; readonly via: 'api_key' | 'jwt' }
  | { readonly scope: 'tenant' | 'auditor'; readonly keyId: string; readonly tenantId: TenantId; readonly via: 'api_key' | 'jwt' };

/** The `actor` written into event metadata: the key behind the credential, never the secret. */
export const actorOf = (principal: Principal): string =>
  principal.scope === 'operator' ? `operator:${principal.keyId}` : `apikey:${principal.keyId}`;

/** JWT `tid` of an operator token: not a valid tenant id, so it can never name a tenant. */
export const OPERATOR_TID = '*';
