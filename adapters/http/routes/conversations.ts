import { z } from 'zod';
import { closeConversation, closeConversationInput } from '../../../commands/conversations/close-conversation.ts';
import { postMessage, postMessageInput } from '../../../commands/conversations/post-message.ts';
import { startConversation, startConversationInput } from '../../../commands/conversations/start-conversation.ts';
import { PLACE_PATTERN } from '../../../projections/read-side.ts';
import { notFound } from '../http-error.ts';
import { defineRoute, entityIdParam, freshnessQuery, pagedQuery, positioned } from './route.ts';

const conversationPath = z.object({ conversationId: entityIdParam });
/**
 * The history in the chat's order; `order=newest` pages from the newest message back (a dashboard opens
 * a conversation at its end), and `before=<place>` starts that below a message's `place`.
 */
const historyQuery = pagedQuery
  .extend({
    order: z.enum(['oldest', 'newest']).optional(),
    before: z.string().regex(PLACE_PATTERN, "must be a message's place (a decimal)").optional(),
  })
  .refine((q) => q.before === undefined || q.order === 'newest', { message: 'before needs order=newest', path: ['before'] });
const missing = () => notFound('conversation_not_found', 'conversation not found');
const tag = 'conversations';
const readers = ['tenant', 'auditor'] as const;

export const conversationRoutes = [
  defineRoute({
    method: 'post', path: '/conversations', tag, summary: 'Start a conversation with the tenant agent',
    scopes: ['tenant'], tenant: 'credential', body: startConversationInput, status: 201,
    handle: async ({ deps, caller, body, newId }) => {
      const result = await startConversation(deps.ports, caller(), body, { conversationId: newId('conversation') });
      return { body: { conversationId: result.conversationId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'get', path: '/conversations', tag, summary: 'Conversations, newest first',
    scopes: readers, tenant: 'credential', query: pagedQuery, status: 200,
    handle: async ({ deps, tenantId, query }) => ({
      body: await deps.reads.forTenant(tenantId, (r) => r.conversations({ limit: query.limit, cursor: query.cursor })),
    }),
  }),
  defineRoute({
    method: 'get', path: '/conversations/:conversationId', tag, summary: 'One conversation',
    scopes: readers, tenant: 'credential', params: conversationPath, query: freshnessQuery, status: 200,
    handle: async ({ deps, tenantId, params }) => {
      const conversation = await deps.reads.forTenant(tenantId, (r) => r.conversation(params.conversationId));
      if (!conversation) throw missing();
      return { body: conversation };
    },
  }),
  defineRoute({
    method: 'post', path: '/conversations/:conversationId/messages', tag, summary: 'Post a user message; the agent answers in the history',
    scopes: ['tenant'], tenant: 'credential', params: conversationPath, body: postMessageInput, status: 201,
    handle: async ({ deps, caller, params, body, newId }) => {
      const result = await postMessage(deps.ports, caller(), params.conversationId, body, { messageId: newId(`message|${params.conversationId}`) });
      return { body: { conversationId: params.conversationId, messageId: result.messageId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
  defineRoute({
    method: 'get', path: '/conversations/:conversationId/messages', tag, summary: 'Message history, in the chat\'s order (or from the newest back)',
    scopes: readers, tenant: 'credential', params: conversationPath, query: historyQuery, status: 200,
    handle: async ({ deps, tenantId, params, query }) => {
      const page = await deps.reads.forTenant(tenantId, async (r) =>
        (await r.conversation(params.conversationId)) ? r.messages(params.conversationId, { limit: query.limit, cursor: query.cursor, order: query.order, before: query.before }) : undefined,
      );
      if (!page) throw missing();
      return { body: page };
    },
  }),
  defineRoute({
    method: 'post', path: '/conversations/:conversationId/close', tag, summary: 'Close a conversation',
    scopes: ['tenant'], tenant: 'credential', params: conversationPath, body: closeConversationInput, status: 200,
    handle: async ({ deps, caller, params, body }) => {
      const result = await closeConversation(deps.ports, caller(), params.conversationId, body);
      return { body: { conversationId: params.conversationId, ...positioned(result) }, duplicate: result.duplicate };
    },
  }),
];
