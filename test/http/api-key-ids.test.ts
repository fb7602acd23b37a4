import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey, revokeApiKey } from '../../commands/tenants/api-keys.ts';
import type { Accepted, Caller } from '../../commands/context.ts';
import type { TenantId } from '../../domain/shared/ids.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client } from './support/client.ts';
import type { Client } from './support/client.ts';
import { newTenant } from './support/journey.ts';

// Authentication finds an API key by its id alone, so an id must be one tenant's, whichever tenant issues it later.
describe('API key ids are unique across tenants', () => {
  let h: ApiHarness;
  let operator: Client;
  beforeAll(async () => {
    h = await startApiHarness();
    operator = client(h.baseUrl, h.operatorKey);
  }, 60_000);
  afterAll(() => h?.close());

  const as = (tenantId: string): Caller => ({ tenantId: tenantId as TenantId, actor: 'apikey:test', correlationId: randomUUID() });
  const applied = async (accepted: Accepted) => expect((await h.platform.reads.waitFor(BigInt(accepted.position!), 5_000)).reached).toBe(true);
  const me = async (key: string) => (await client(h.baseUrl, key).get<{ tenantId: string }>('/tenants/me')).status;
  const keyId = () => `c${randomUUID().replace(/-/g, '').slice(0, 11)}`;

  it("another tenant's key with the same id (two issued at once, past the command's check) neither replaces nor revokes the first", async () => {
    const [a, b] = [await newTenant(operator), await newTenant(operator)];
    const id = keyId();
    const first = await issueApiKey(h.platform.ports, as(a.tenantId), a.tenantId as TenantId, { label: 'first', scope: 'tenant' }, { keyId: id });
    await applied(first);
    // the race the command's check cannot close: B's issue decided before A's reached the read models
    const blind = { ...h.platform.ports, apiKeyOwner: undefined };
    const second = await issueApiKey(blind, as(b.tenantId), b.tenantId as TenantId, { label: 'second', scope: 'tenant' }, { keyId: id });
    await applied(second);
    await applied(await revokeApiKey(blind, as(b.tenantId), b.tenantId as TenantId, id));

    expect(await h.platform.reads.findApiKey(id)).toMatchObject({ keyId: id, tenantId: a.tenantId, revoked: false });
    expect(await me(first.key!)).toBe(200); // still A's, unrevoked
    const whoami = await client(h.baseUrl, first.key!).get<{ tenantId: string }>('/tenants/me');
    expect(whoami.body.tenantId).toBe(a.tenantId);
    expect(await me(second.key!)).toBe(401); // B's never became a credential
  });

  it('issuing a key under an id another tenant holds is refused (409 api_key_id_taken) and appends nothing', async () => {
    const [a, b] = [await newTenant(operator), await newTenant(operator)];
    const id = keyId();
    await applied(await issueApiKey(h.platform.ports, as(a.tenantId), a.tenantId as TenantId, { label: 'first', scope: 'tenant' }, { keyId: id }));
    const before = await h.storage.store.readAll({ filter: { tenantId: b.tenantId } });
    await expect(issueApiKey(h.platform.ports, as(b.tenantId), b.tenantId as TenantId, { label: 'second', scope: 'tenant' }, { keyId: id })).rejects.toMatchObject({
      code: 'api_key_id_taken',
      kind: 'conflict',
    });
    expect(await h.storage.store.readAll({ filter: { tenantId: b.tenantId } })).toHaveLength(before.length);
    // the same id again for its own tenant (a replayed Idempotency-Key) is not a collision
    await expect(issueApiKey(h.platform.ports, as(a.tenantId), a.tenantId as TenantId, { label: 'first', scope: 'tenant' }, { keyId: id })).rejects.toMatchObject({
      code: 'api_key_exists',
    });
  });
});
