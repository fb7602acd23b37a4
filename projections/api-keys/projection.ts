import type { Projection } from '../shared/projection.ts';
import { atOf, streamOf } from '../shared/stream.ts';

/** Keys for authentication: only the hash of a secret is ever stored. */
export const apiKeysProjection: Projection = {
  name: 'api_keys',
  tables: [
    {
      name: 'api_keys',
      columns: { key_id: 'text', scope: 'text', label: 'text', hash: 'text', created_at: 'timestamptz', revoked_at: 'timestamptz' },
      primaryKey: ['key_id'],
      indexes: [['tenant_id', 'created_at']],
    },
  ],
  reducers: [
    {
      table: 'api_keys',
      handles: ['ApiKeyIssued', 'ApiKeyRevoked', 'TenantErased'],
      key: (event) => {
        // TenantErased: the runner purges an erased tenant's rows
        return event.type === 'ApiKeyIssued' || event.type === 'ApiKeyRevoked' ? { key_id: event.data.keyId } : undefined;
      },
      // A key id is unique across tenants (authentication finds a key by its id alone): the first tenant
      // to issue an id owns its row; another tenant's event for the same id (a collision the issuing
      // command refuses, but two issued at once could both pass) changes nothing, neither issue nor revoke.
      apply: (row, event) => {
        const tenantId = streamOf(event).tenantId;
        if (row && row.tenant_id !== tenantId) return undefined;
        if (event.type === 'ApiKeyIssued') {
          const d = event.data;
          return {
            key_id: d.keyId,
            tenant_id: tenantId,
            scope: d.scope,
            label: d.label,
            hash: d.hash,
            created_at: atOf(event),
            revoked_at: null,
          };
        }
        if (event.type === 'ApiKeyRevoked' && row) return { ...row, revoked_at: atOf(event) };
        return undefined;
      },
    },
  ],
};
