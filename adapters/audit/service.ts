import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { AsOf, TenantStateAsOf } from './as-of.ts';
import { tenantStateAsOf } from './as-of.ts';
import { verifyStore } from './check.ts';
import type { TenantDigest } from './digest.ts';
import type { LogRange } from './lines.ts';
import { exportText } from './lines.ts';
import type { VerifyReport } from './verify.ts';

/** What the audit routes read: a tenant's raw history, its digest, and its state at a point. */
export interface AuditLog {
  /**
   * NDJSON lines of the tenant's events in global order (data and metadata as the store prints them, with hashes), a page at a time.
   * A range with `from` names on each stream's first line past revision 0 the hash of the event before it (`prev`): verifiable as delivered.
   */
  events(tenantId: string, range: Omit<LogRange, 'tenantId'>): AsyncIterable<string>;
  /** Recomputes the tenant's chains and gives its digest (the heads it verified). */
  digest(tenantId: string): Promise<{ readonly report: VerifyReport; readonly digest: TenantDigest }>;
  stateAsOf(tenantId: string, asOf: AsOf): Promise<TenantStateAsOf>;
}

export const createAuditLog = (deps: { store: EventStore; codec: EventCodec }): AuditLog => ({
  async *events(tenantId, range) {
    yield* exportText(deps.store, { ...range, tenantId });
  },
  async digest(tenantId) {
    const { digest, heads: _heads, ...report } = await verifyStore(deps.store, { tenantId });
    return { report, digest: digest! };
  },
  stateAsOf: (tenantId, asOf) => tenantStateAsOf(deps, tenantId, asOf),
});
