import { randomUUID } from 'node:crypto';
import { conversationDecider } from '../../domain/index.ts';
import type { Channel, TenantId } from '../../domain/index.ts';
import { accepted, envelope } from '../context.ts';
import type { Accepted, CommandPorts } from '../context.ts';

const deliveryCaller = (tenantId: TenantId, causationId: string) => ({
  tenantId,
  actor: 'system:bots',
  correlationId: randomUUID(),
  causationId,
});

/** The outcome of sending an agent's message on its channel; recording it again changes nothing. */
export const recordDelivered = async (
  ports: CommandPorts,
  at: { tenantId: TenantId; streamId: string; causationId: string },
  d: { messageId: string; channel: Channel; externalMessageIds: readonly string[]; unconfirmedParts: number },
): Promise<Accepted> =>
  accepted(
    await ports.shell.handle(
      conversationDecider,
      envelope(deliveryCaller(at.tenantId, at.causationId), at.streamId, { type: 'RecordMessageDelivered', ...d, at: ports.clock().toISOString() }),
    ),
  );

export const recordDeliveryFailed = async (
  ports: CommandPorts,
  at: { tenantId: TenantId; streamId: string; causationId: string },
  f: { messageId: string; channel: Channel; reason: string; retryable: boolean },
): Promise<Accepted> =>
  accepted(
    await ports.shell.handle(
      conversationDecider,
      envelope(deliveryCaller(at.tenantId, at.causationId), at.streamId, { type: 'RecordMessageDeliveryFailed', ...f, at: ports.clock().toISOString() }),
    ),
  );
