import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretMatchesHash } from '../channels/secrets.ts';

/** Meta signs every webhook POST with the app secret in this header (lower-cased as node sees it). */
export const WHATSAPP_SIGNATURE_HEADER = 'x-hub-signature-256';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * Whether `header` is Meta's signature of exactly these bytes. Checked over the raw body as received
 * (re-serialised JSON differs on non-ASCII and spacing), in constant time; a missing, repeated or
 * malformed header is false.
 */
export const whatsappSignatureMatches = (rawBody: Buffer, header: string | string[] | undefined, appSecret: string): boolean => {
  const m = typeof header === 'string' ? SIGNATURE.exec(header.trim()) : null;
  if (!m) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(m[1]!, 'hex'));
};

export type VerificationAnswer = { readonly status: 200; readonly challenge: string } | { readonly status: 403 };

/**
 * The GET handshake Meta makes when a webhook is configured: `hub.mode=subscribe`, `hub.verify_token`
 * (compared with the stored hash in constant time) and `hub.challenge`, answered as plain text. Anything
 * else is 403. `query` is the parsed query string (express: `req.query`, keys with their dots).
 */
export const answerVerification = (query: Record<string, unknown>, verifyTokenHash: string): VerificationAnswer => {
  const challenge = query['hub.challenge'];
  const ok =
    query['hub.mode'] === 'subscribe' &&
    typeof challenge === 'string' &&
    /^[\x21-\x7e]{1,256}$/.test(challenge) &&
    secretMatchesHash(query['hub.verify_token'], verifyTokenHash);
  return ok ? { status: 200, challenge: challenge as string } : { status: 403 };
};
