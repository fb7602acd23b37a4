import { z } from 'zod';
import { asConversationId, conversationDecider } from '../../domain/index.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, tenantFactsOf, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const closeConversationInput = z.object({ reason: text(500).default('closed by client') }).strict();

export const closeConversation = async (
  ports: CommandPorts,
  caller: Caller,
  conversationId: string,
  input: z.infer<typeof closeConversationInput>,
): Promise<Accepted> => {
  const id = asConversationId(conversationId);
  const tenant = await tenantFactsOf(ports, caller.tenantId);
  return accepted(
    await ports.shell.handle(
      conversationDecider,
      envelope(caller, conversationStream(caller.tenantId, id), {
        type: 'CloseConversation',
        reason: input.reason,
        tenant,
        at: ports.clock().toISOString(),
      }),
    ),
  );
};
