import { domainError } from './errors.ts';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type ConversationId = Brand<string, 'ConversationId'>;
export type KnightId = Brand<string, 'KnightId'>;

/**
 * A tenant's id is its slug: lower-case, starts with a letter, 3–40 chars of [a-z0-9-].
 * Using the slug as the stream key makes "slugs are unique across tenants" an
 * append-with-no-stream guarantee that every event store enforces atomically.
 */
export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{2,39}$/;
/** Conversation and knight ids: 1–64 chars of [A-Za-z0-9_-] (UUIDs fit). */
export const ENTITY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const asTenantId = (value: string): TenantId => {
  if (!TENANT_ID_PATTERN.test(value))
    throw domainError('validation', 'invalid_tenant_id', `invalid tenant id or slug: ${JSON.stringify(value.slice(0, 64))}`);
  return value as TenantId;
};
export const asConversationId = (value: string): ConversationId => {
  if (!ENTITY_ID_PATTERN.test(value))
    throw domainError('validation', 'invalid_conversation_id', 'invalid conversation id');
  return value as ConversationId;
};
export const asKnightId = (value: string): KnightId => {
  if (!ENTITY_ID_PATTERN.test(value)) throw domainError('validation', 'invalid_knight_id', 'invalid knight id');
  return value as KnightId;
};
