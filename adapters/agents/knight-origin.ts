/**
 * A knight deployed from a chat carries the chat on its first event's correlation id, so whoever
 * reports its progress finds the conversation (and the message that asked) from the log alone.
 */
const PREFIX = 'agent-chat:';

export const chatOrigin = (conversationId: string, messageId: string): string => `${PREFIX}${conversationId}:${messageId}`;

/** Does this correlation id claim a chat as its origin? (Only the agent may give one: see request-context.) */
export const isChatOrigin = (correlationId: string): boolean => correlationId.startsWith(PREFIX);

export const parseChatOrigin = (correlationId: string): { conversationId: string; messageId: string } | undefined => {
  if (!correlationId.startsWith(PREFIX)) return undefined;
  const rest = correlationId.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { conversationId: rest.slice(0, colon), messageId: rest.slice(colon + 1) };
};
