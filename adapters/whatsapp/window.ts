import type { AppError } from '../../domain/shared/errors.ts';
import { channelError } from '../channels/errors.ts';

/** Free-form replies are allowed only this long after the user's last message; after that only approved templates. */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

export type WindowVerdict =
  | { readonly open: true; readonly closesAt: Date }
  | { readonly open: false; readonly reason: 'no_inbound_message' | 'window_closed'; readonly closedAt: Date | null };

/**
 * Whether a free-form reply to a user may be sent at `now`, given when that user last wrote (null: never).
 * The window is half-open: at exactly 24 hours it has closed. A last message stamped after `now` (clock
 * skew between Meta and us) counts as just now.
 */
export const customerServiceWindow = (lastInboundAt: Date | null, now: Date): WindowVerdict => {
  if (lastInboundAt === null) return { open: false, reason: 'no_inbound_message', closedAt: null };
  const closesAt = new Date(lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS);
  return now.getTime() < closesAt.getTime() ? { open: true, closesAt } : { open: false, reason: 'window_closed', closedAt: closesAt };
};

/** The permanent failure of a reply outside the window; Graph's own refusal (131047) maps to the same code. */
export const outsideWindowError = (verdict: Extract<WindowVerdict, { open: false }>): AppError =>
  channelError(
    'whatsapp_outside_window',
    verdict.reason === 'no_inbound_message'
      ? 'the user has never written to this number, so only a template message may be sent'
      : `the 24-hour customer-service window closed at ${verdict.closedAt!.toISOString()}; only a template message may be sent`,
    { channel: 'whatsapp', retryable: false },
  );
