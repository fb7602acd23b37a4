import { domainError } from '../shared/errors.ts';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../shared/ids.ts';
import type { ConversationId, TenantId } from '../shared/ids.ts';
import { CHANNELS, MESSAGE_ROLES } from './events.ts';
import type { Channel, MessageRole } from './events.ts';

export const MAX_MESSAGE_TEXT = 16_000;

const invalid = (code: string, message: string) => domainError('validation', code, message);
const PRINTABLE_TOKEN = /^[\x21-\x7e]{1,128}$/;

export const checkConversationId = (value: unknown): ConversationId => {
  if (typeof value !== 'string' || !ENTITY_ID_PATTERN.test(value))
    throw invalid('invalid_conversation_id', 'conversation id must be 1–64 characters of A-Z, a-z, 0-9, _ or -');
  return value as ConversationId;
};

export const checkTenantId = (value: unknown): TenantId => {
  if (typeof value !== 'string' || !TENANT_ID_PATTERN.test(value)) throw invalid('invalid_tenant_id', 'invalid tenant id');
  return value as TenantId;
};

export const checkChannel = (value: unknown): Channel => {
  if (!(CHANNELS as readonly unknown[]).includes(value)) throw invalid('invalid_channel', 'unknown channel');
  return value as Channel;
};

export const checkRole = (value: unknown): MessageRole => {
  if (!(MESSAGE_ROLES as readonly unknown[]).includes(value)) throw invalid('invalid_message_role', 'unknown message role');
  return value as MessageRole;
};

/** Ids from outside (webhook message ids, chat ids): 1–128 printable characters without spaces. */
export const checkToken = (value: unknown, code: string, what: string): string => {
  if (typeof value !== 'string' || !PRINTABLE_TOKEN.test(value))
    throw invalid(code, `${what} must be 1–128 printable characters without spaces`);
  return value;
};

export const checkText = (value: unknown, max: number, code: string, what: string): string => {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max)
    throw invalid(code, `${what} must be 1–${max} characters and not blank`);
  return value;
};

export const checkMessagesToday = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid('invalid_messages_today', 'messagesToday must be a non-negative integer');
  return value;
};
