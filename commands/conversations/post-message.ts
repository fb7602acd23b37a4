import { z } from 'zod';
import { asConversationId, conversationDecider, MAX_MESSAGE_TEXT } from '../../domain/index.ts';
import type { Channel, MessageRole } from '../../domain/index.ts';
import { conversationStream } from '../../domain/shared/streams.ts';
import { accepted, envelope, reserveMessage, tenantFactsOf, text } from '../context.ts';
import type { Accepted, Caller, CommandPorts } from '../context.ts';

export const postMessageInput = z
  .object({
    text: text(MAX_MESSAGE_TEXT).refine((s) => s.trim().length > 0, 'must not be blank'),
    /** `agent`: the tenant's own agent answers (in a bot conversation the answer goes back to the bot user). */
    role: z.enum(['user', 'agent']).optional(),
  })
  .strict();

/**
 * A client posts as `user`; the agent runtime and bot adapters pass their own role and channel, and
 * the agent names the user message it answers (`inReplyTo`).
 */
export const postMessage = async (
  ports: CommandPorts,
  caller: Caller,
  conversationId: string,
  input: z.infer<typeof postMessageInput>,
  options: { role?: MessageRole; channel?: Channel; messageId?: string; external?: { messageId: string; order: number }; inReplyTo?: string | null } = {},
): Promise<Accepted & { messageId: string }> => {
  const id = asConversationId(conversationId);
  const at = ports.clock();
  const day = at.toISOString().slice(0, 10);
  const role = options.role ?? input.role ?? 'user';
  const tenant = await tenantFactsOf(ports, caller.tenantId);
  // Only user messages count against the daily quota.
  const slot = role === 'user' ? await reserveMessage(ports.usage, caller.tenantId, day) : undefined;
  let appended: bigint | undefined;
  try {
    const messageId = options.messageId ?? ports.newId();
    const result = await ports.shell.handle(
      conversationDecider,
      envelope(caller, conversationStream(caller.tenantId, id), {
        type: 'PostMessage',
        messageId,
        role,
        channel: options.channel ?? 'api',
        text: input.text,
        tenant,
        messagesToday: slot?.count ?? 0,
        external: options.external ?? null,
        inReplyTo: options.inReplyTo ?? null,
        at: at.toISOString(),
      }),
    );
    if (result.events.length > 0) appended = result.position;
    return { ...accepted(result), messageId };
  } finally {
    slot?.settle(appended);
  }
};
