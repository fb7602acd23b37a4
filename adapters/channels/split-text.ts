/** Telegram's and WhatsApp's limit for one text message. */
export const MAX_MESSAGE_CHARS = 4096;

/**
 * Boundaries to cut at, best first: a paragraph, a line, a sentence, a word. Each pattern matches the
 * whitespace after the boundary, so the cut drops it and no part starts or ends in blanks.
 */
const BOUNDARIES: readonly RegExp[] = [/\n[ \t\r]*\n\s*/g, /\n\s*/g, /(?<=[.!?…。！？])\s+/g, /\s+/g];

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The last match of `pattern` that starts after `from` and before `limit`: [start, end] of the blanks. */
const lastMatch = (text: string, pattern: RegExp, from: number, limit: number): [number, number] | null => {
  let found: [number, number] | null = null;
  for (const m of text.slice(0, limit + 1).matchAll(pattern)) {
    if (m.index > from && m.index <= limit) found = [m.index, m.index + m[0].length];
  }
  return found;
};

/**
 * Where to cut a text that does not fit: at the best boundary in the second half of the window (so no
 * part is needlessly short), else a word boundary anywhere, else the last whole grapheme that fits —
 * never inside a surrogate pair or an emoji sequence.
 */
const cutAt = (text: string, max: number): [number, number] => {
  const half = Math.floor(max / 2);
  for (const pattern of BOUNDARIES) {
    const found = lastMatch(text, pattern, half, max);
    if (found) return found;
  }
  const anyWord = lastMatch(text, /\s+/g, 0, max);
  if (anyWord) return anyWord;
  let end = 0;
  for (const { index, segment } of graphemes.segment(text.slice(0, max + 1))) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  if (end === 0) end = text.codePointAt(0)! > 0xffff ? 2 : 1; // one grapheme longer than max: cut by code point
  return [end, end];
};

/**
 * A text cut into parts of at most `max` UTF-16 code units (what both platforms count; never more than
 * the characters a user sees), in order, cut at paragraph, sentence or word boundaries when possible.
 * Blanks at a cut are dropped; a text of only blanks gives no part.
 */
export const splitText = (text: string, max: number = MAX_MESSAGE_CHARS): string[] => {
  if (max < 2) throw new RangeError('max must be at least 2 (one surrogate pair)');
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > max) {
    const [end, next] = cutAt(rest, max);
    const part = rest.slice(0, end).trimEnd();
    if (part !== '') parts.push(part);
    rest = rest.slice(next).trimStart();
  }
  if (rest !== '') parts.push(rest);
  return parts;
};
