import { expect } from 'vitest';
import { ok } from '../http/support/client.ts';
import type { Client } from '../http/support/client.ts';
import type { GatewayChat } from '../../adapters/openclaw/gateway-client.ts';

export interface Message {
  messageId: string;
  seq: number;
  role: 'user' | 'agent' | 'system';
  text: string;
  inReplyTo: string | null;
  delivery: string;
}

/** Posts a user message; returns its id and the position to read the history from. */
export const say = async (me: Client, conversationId: string, text: string) =>
  ok(await me.post<{ messageId: string; position: string }>(`/conversations/${conversationId}/messages`, { text }), 201);

/** The whole history, read with minPosition (read-your-writes of the caller's own post). */
export const history = async (me: Client, conversationId: string, minPosition?: string): Promise<Message[]> => {
  const items: Message[] = [];
  let cursor: string | null = null;
  do {
    const query: string = [`limit=100`, minPosition ? `minPosition=${minPosition}` : '', cursor ? `cursor=${cursor}` : ''].filter(Boolean).join('&');
    const page = ok(await me.get<{ items: Message[]; next: string | null }>(`/conversations/${conversationId}/messages?${query}`), 200);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
};

/** Waits until the history holds the replies to `messageId` that `done` accepts, and returns them. */
export const repliesTo = async (
  me: Client,
  conversationId: string,
  posted: { messageId: string; position: string },
  done: (replies: Message[]) => boolean = (r) => r.length > 0,
  timeoutMs = 30_000,
): Promise<Message[]> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const replies = (await history(me, conversationId, posted.position)).filter((m) => m.inReplyTo === posted.messageId);
    if (done(replies)) return replies;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the replies to ${posted.messageId}; got ${JSON.stringify(replies.map((r) => r.text))}`);
    // gently: the API rate-limits a tenant's reads
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

export const newConversation = async (me: Client, title = 'chat') =>
  ok(await me.post<{ conversationId: string }>('/conversations', { title }), 201).conversationId;

export const expectOneReplyEach = (messages: Message[]) => {
  const users = messages.filter((m) => m.role === 'user');
  const counts = new Map(users.map((u) => [u.messageId, 0]));
  for (const m of messages) if (m.inReplyTo && counts.has(m.inReplyTo) && m.messageId.startsWith('reply-')) counts.set(m.inReplyTo, counts.get(m.inReplyTo)! + 1);
  const wrong = [...counts].filter(([, n]) => n !== 1);
  expect(wrong, 'user messages not answered exactly once').toEqual([]);
};

/** One chat for the gateway client (adapters/openclaw/gateway-client.ts) against a test server at `baseUrl`. */
export const gatewayChat = (baseUrl: string, extra: Partial<GatewayChat> = {}): GatewayChat => ({
  baseUrl,
  token: 't',
  agentId: 'main',
  sessionKey: 'ocs:acme:c1',
  text: 'hi',
  signal: new AbortController().signal,
  onText: () => undefined,
  ...extra,
});
