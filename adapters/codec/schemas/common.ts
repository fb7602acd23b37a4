import { z } from 'zod';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../../../domain/shared/ids.ts';
import type { ConversationId, KnightId, TenantId } from '../../../domain/shared/ids.ts';

/** Building blocks of the stored-event schemas: structure and bounds, not business rules (deciders own those). */
export const tenantId = z.custom<TenantId>((v) => typeof v === 'string' && TENANT_ID_PATTERN.test(v), 'a tenant id');
export const conversationId = z.custom<ConversationId>((v) => typeof v === 'string' && ENTITY_ID_PATTERN.test(v), 'a conversation id');
export const knightId = z.custom<KnightId>((v) => typeof v === 'string' && ENTITY_ID_PATTERN.test(v), 'a knight id');
/** Printable ids and hashes from us or third parties. */
export const token = z.string().regex(/^[\x21-\x7e]{1,512}$/, 'printable characters without spaces');
/** An encrypted field: plaintext, ciphertext or a marker depending on the decode mode, so only a string. */
export const sealed = z.string();
