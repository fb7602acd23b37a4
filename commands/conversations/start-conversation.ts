import { z } from 'zod';
import { asConversationId, conversationDecider } from '../../domain/index.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, tenantFactsOf, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const startConversationInput = z
  .object({
    title: text(200).nullable().default(null),
  })
  .strict();

/** API-started conversations; bot adapters start theirs with the chat id as the conversation id. */
export const startConversation = async (
  ports: CommandPorts,
  caller: Caller,
  input: z.infer<typeof startConversationInput>,
  options: { conversationId?: string; channel?: 'api' | 'telegram' | 'whatsapp'; externalChatId?: string | null } = {},
): Promise<Accepted & { conversationId: string }> => {
  const conversationId = asConversationId(options.conversationId ?? ports.newId());
  const tenant = await tenantFactsOf(ports, caller.tenantId);
  const result = await ports.shell.handle(
    conversationDecider,
    envelope(caller, conversationStream(caller.tenantId, conversationId), {
      type: 'StartConversation',
      conversationId,
      tenantId: caller.tenantId,
      channel: options.channel ?? 'api',
      externalChatId: options.externalChatId ?? null,
      title: input.title,
      tenant,
      at: ports.clock().toISOString(),
    }),
  );
  return { ...accepted(result), conversationId };
};
