import { domainError } from '../shared/errors.ts';
import type { AppError } from '../shared/errors.ts';
import { unreachable } from '../shared/decider.ts';
import { isTier } from '../tiers.ts';
import type { Tier } from '../tiers.ts';

/**
 * What another aggregate needs to know about its tenant. The command handler looks it up
 * (from the tenant stream or a read model) and puts it on the command, keeping deciders pure.
 */
export type TenantStatus = 'none' | 'active' | 'suspended' | 'erased';

export interface TenantFacts {
  readonly status: TenantStatus;
  readonly tier: Tier;
}

export const tenantNotFound = (): AppError => domainError('not_found', 'tenant_not_found', 'tenant not found');
export const tenantErased = (): AppError => domainError('not_found', 'tenant_erased', 'tenant has been erased');
export const tenantSuspended = (): AppError => domainError('forbidden', 'tenant_suspended', 'tenant is suspended');

/** Refuses unless the tenant is active; returns its tier for limit checks. */
export const requireActiveTenant = (tenant: TenantFacts): Tier => {
  const status = tenant.status;
  switch (status) {
    case 'active':
      if (!isTier(tenant.tier)) throw domainError('validation', 'invalid_tier', 'unknown tier in tenant facts');
      return tenant.tier;
    case 'suspended':
      throw tenantSuspended();
    case 'erased':
      throw tenantErased();
    case 'none':
      throw tenantNotFound();
    default:
      return unreachable(status);
  }
};
