import { tenantDecider } from '../../domain/index.ts';
import type { TenantId } from '../../domain/index.ts';
import { tenantStream } from '../../domain/shared/streams.ts';
import { accepted, envelope } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

/**
 * Asks for the tenant's agent VM again after it failed (the first request is the saga's, on
 * TenantCreated). While one is in progress or ready this changes nothing: `requestId` is then null.
 * A repeated Idempotency-Key answers the request it made the first time.
 */
export const requestAgentVm = async (
  ports: CommandPorts,
  caller: Caller,
  tenantId: TenantId,
  requestId: string,
): Promise<Accepted & { requestId: string | null }> => {
  const result = await ports.shell.handle(
    tenantDecider,
    envelope({ ...caller, tenantId }, tenantStream(tenantId), { type: 'RequestAgentVm', requestId, at: ports.clock().toISOString() }),
  );
  return { ...accepted(result), requestId: result.events.length > 0 || result.duplicate ? requestId : null };
};
