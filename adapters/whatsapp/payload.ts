import { z } from 'zod';
import { inboundText } from '../channels/inbound-text.ts';

type Common = {
  /** The business number it arrived at: must be the tenant's connected number. */
  readonly phoneNumberId: string;
  /** `wamid.…`: deduplicates Meta's redeliveries (it retries for up to 7 days). */
  readonly id: string;
  /** The user's wa_id: the conversation's externalChatId and the recipient of replies. */
  readonly from: string;
  /** Unix seconds, as Meta stamped it. */
  readonly timestamp: number;
  readonly profileName: string | null;
  /** The wamid this message quotes, if any. */
  readonly replyTo: string | null;
};
export type WhatsAppInbound =
  | (Common & { readonly type: 'text'; readonly text: string })
  | (Common & { readonly type: 'without_text'; readonly kind: string });

export type WhatsAppErrorDetail = { readonly code: number; readonly title: string; readonly message: string | null; readonly details: string | null };
export type WhatsAppStatus = {
  readonly phoneNumberId: string;
  /** The wamid of our outgoing message. */
  readonly messageId: string;
  readonly status: 'sent' | 'delivered' | 'read' | 'failed';
  readonly timestamp: number;
  readonly recipientId: string;
  readonly errors: readonly WhatsAppErrorDetail[];
};

/**
 * A webhook POST: its inbound messages, statuses of sent messages and errors, in payload order, and how
 * many items were skipped as malformed or unknown. A body that is not a WhatsApp webhook at all is
 * `ignored`. Never a throw: Meta retries anything but a 2xx for days.
 */
export type WhatsAppWebhook =
  | {
      readonly type: 'events';
      readonly messages: readonly WhatsAppInbound[];
      readonly statuses: readonly WhatsAppStatus[];
      readonly errors: readonly (WhatsAppErrorDetail & { readonly phoneNumberId: string })[];
      readonly skipped: number;
    }
  | { readonly type: 'ignored'; readonly reason: string };

/** Ids become idempotency keys: the domain takes 1–128 printable characters without spaces. */
const externalId = z.string().regex(/^[\x21-\x7e]{1,128}$/);
const waId = z.string().regex(/^\d{5,20}$/);
const unixSeconds = z.string().regex(/^\d{1,12}$/).transform(Number);

const errorDetail = z.object({
  code: z.number().int(),
  title: z.string().default(''),
  message: z.string().optional(),
  error_data: z.object({ details: z.string().optional() }).optional(),
});
const message = z.looseObject({
  id: externalId,
  from: waId,
  timestamp: unixSeconds,
  type: z.string().min(1).max(64),
  text: z.object({ body: z.string() }).optional(),
  button: z.object({ text: z.string() }).optional(),
  interactive: z
    .object({ button_reply: z.object({ title: z.string() }).optional(), list_reply: z.object({ title: z.string() }).optional() })
    .optional(),
  context: z.object({ id: z.string().optional() }).optional(),
});
const status = z.object({
  id: externalId,
  status: z.enum(['sent', 'delivered', 'read', 'failed']),
  timestamp: unixSeconds,
  recipient_id: waId, // it finds the conversation (by its pseudonym): anything else is skipped, not a refusal of the whole batch
  errors: z.array(errorDetail).optional(),
});
const value = z.object({
  metadata: z.object({ phone_number_id: z.string().min(1) }),
  contacts: z.array(z.object({ wa_id: z.string(), profile: z.object({ name: z.string() }).optional() })).optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});
const envelope = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.object({ changes: z.array(z.object({ field: z.string(), value: z.unknown() })) })),
});

const asError = (e: z.infer<typeof errorDetail>): WhatsAppErrorDetail => ({
  code: e.code,
  title: e.title,
  message: e.message ?? null,
  details: e.error_data?.details ?? null,
});

/** A user's words: a text, or the label of a quick-reply button or list item they tapped. */
const wordsOf = (m: z.infer<typeof message>): string | null => {
  const raw =
    m.type === 'text'
      ? m.text?.body
      : m.type === 'button'
        ? m.button?.text
        : m.type === 'interactive'
          ? (m.interactive?.button_reply ?? m.interactive?.list_reply)?.title
          : undefined;
  return raw === undefined ? null : inboundText(raw);
};

export const parseWhatsAppWebhook = (body: unknown): WhatsAppWebhook => {
  const parsed = envelope.safeParse(body);
  if (!parsed.success) return { type: 'ignored', reason: 'not_a_whatsapp_webhook' };
  const messages: WhatsAppInbound[] = [];
  const statuses: WhatsAppStatus[] = [];
  const errors: (WhatsAppErrorDetail & { phoneNumberId: string })[] = [];
  let skipped = 0;
  const each = <T>(items: readonly unknown[] | undefined, schema: z.ZodType<T>, take: (item: T) => void) => {
    for (const item of items ?? []) {
      const p = schema.safeParse(item);
      if (p.success) take(p.data);
      else skipped++;
    }
  };
  for (const change of parsed.data.entry.flatMap((e) => e.changes)) {
    const v = value.safeParse(change.value);
    if (change.field !== 'messages' || !v.success) {
      skipped++;
      continue;
    }
    const phoneNumberId = v.data.metadata.phone_number_id;
    const names = new Map((v.data.contacts ?? []).map((c) => [c.wa_id, c.profile?.name ?? null]));
    each(v.data.messages, message, (m) => {
      const profileName = names.get(m.from) ?? null;
      const common = { phoneNumberId, id: m.id, from: m.from, timestamp: m.timestamp, profileName, replyTo: m.context?.id ?? null };
      const text = wordsOf(m);
      messages.push(text !== null ? { ...common, type: 'text', text } : { ...common, type: 'without_text', kind: m.type });
    });
    each(v.data.statuses, status, (s) => {
      const failures = (s.errors ?? []).map(asError);
      statuses.push({ phoneNumberId, messageId: s.id, status: s.status, timestamp: s.timestamp, recipientId: s.recipient_id, errors: failures });
    });
    each(v.data.errors, errorDetail, (e) => errors.push({ ...asError(e), phoneNumberId }));
  }
  return { type: 'events', messages, statuses, errors, skipped };
};
