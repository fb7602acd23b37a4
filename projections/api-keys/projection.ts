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
      apply: (row, event) => {
        if (event.type === 'ApiKeyIssued') {
          const d = event.data;
          return {
            key_id: d.keyId,
            tenant_id: streamOf(event).tenantId,
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
      loadsRow: (event) => event.type !== 'ApiKeyIssued',
    },
  ],
};
