/**
 * Text from a platform as the event store takes it: lone surrogates become U+FFFD and U+0000 is dropped
 * (the store refuses both, and a refusal would answer the webhook with an error the platform retries
 * for days). Null when nothing but blanks is left.
 */
export const inboundText = (raw: string): string | null => {
  const text = raw.toWellFormed().replaceAll('\u0000', '');
  return text.trim() === '' ? null : text;
};
