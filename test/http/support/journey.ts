import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { client, ok } from './client.ts';
import type { Client } from './client.ts';

export const slug = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Operator makes a tenant and a key; waits (minPosition) until the read model knows the key. */
export const newTenant = async (operator: Client, tier: 'free' | 'pro' | 'enterprise' = 'free', scope: 'tenant' | 'auditor' = 'tenant') => {
  const tenantId = slug('t');
  const created = ok(await operator.post<{ tenantId: string; position: string }>('/tenants', { slug: tenantId, name: 'Acme', tier }), 201);
  expect(created.tenantId).toBe(tenantId);
  expect(created.position).toMatch(/^\d+$/);
  const issued = ok(await operator.post<{ keyId: string; key: string; position: string }>(`/tenants/${tenantId}/api-keys`, { label: 'ci', scope }), 201);
  expect(issued.key).toMatch(/^ocs_[a-z0-9]{12}_/);
  ok(await operator.get(`/tenants/${tenantId}?minPosition=${issued.position}`), 200);
  return { tenantId, key: issued.key, keyId: issued.keyId, position: issued.position };
};

/** Exchanges an API key for a bearer token. */
export const tokenFor = async (baseUrl: string, key: string) =>
  ok(await client(baseUrl, key).post<{ access_token: string; expires_in: number }>('/auth/token'), 200).access_token;
