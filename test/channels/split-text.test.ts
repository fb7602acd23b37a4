import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_CHARS, splitText } from '../../adapters/channels/split-text.ts';

const paragraph = (n: number, word = 'lorem') => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ') + '.';
const hasLoneSurrogate = (s: string) => !s.isWellFormed();

describe('splitText: over-long replies cut where a reader expects a break', () => {
  it('leaves a text within the limit as one part, trimmed', () => {
    expect(splitText('  hello there \n')).toEqual(['hello there']);
    expect(splitText('x'.repeat(MAX_MESSAGE_CHARS))).toHaveLength(1);
  });

  it('gives no part for a text of only blanks', () => {
    expect(splitText(' \n\t ')).toEqual([]);
  });

  it('cuts between paragraphs when a paragraph break lies in the second half of the window', () => {
    const first = paragraph(400); // about 3,000 characters
    const second = paragraph(400, 'ipsum');
    const parts = splitText(`${first}\n\n${second}`);
    expect(parts).toEqual([first, second]);
  });

  it('cuts after a sentence when there is no paragraph break to use', () => {
    const sentences = Array.from({ length: 200 }, (_, i) => `Sentence number ${i} says a little.`).join(' ');
    const parts = splitText(sentences, 1000);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts.slice(0, -1)) expect(part).toMatch(/\.$/);
    expect(parts.join(' ')).toBe(sentences);
  });

  it('cuts between words when there is no sentence end, and never inside a word', () => {
    const words = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
    const parts = splitText(words, 500);
    expect(parts.join(' ')).toBe(words);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(500);
  });

  it('cuts a text without any blank between graphemes: an emoji pair or a family emoji stays whole', () => {
    const family = '👨‍👩‍👧‍👦'; // 11 UTF-16 units joined by ZWJ
    const text = `${'😀'.repeat(7)}${family}${'a'.repeat(5)}`;
    const parts = splitText(text, 16);
    expect(parts.join('')).toBe(text);
    expect(parts).toContain(family + 'a'.repeat(5));
    for (const part of parts) expect(hasLoneSurrogate(part)).toBe(false);
  });

  it('property: parts fit, keep the text in order, lose nothing but blanks at cuts, and never split a surrogate pair', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constantFrom(' ', '\n', '\n\n', '. ', '! ', '😀', '👨‍👩‍👧', 'e\u0301', '\t'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 200 }), fc.integer({ min: 2, max: 120 }), (pieces, max) => {
        const text = pieces.join('');
        const parts = splitText(text, max);
        let offset = 0;
        for (const part of parts) {
          expect(part.length).toBeLessThanOrEqual(max);
          expect(part.trim()).toBe(part);
          expect(part).not.toBe('');
          expect(hasLoneSurrogate(part)).toBe(false);
          const at = text.indexOf(part, offset);
          expect(at).toBeGreaterThanOrEqual(offset);
          expect(text.slice(offset, at).trim()).toBe(''); // only blanks between two parts
          offset = at + part.length;
        }
        expect(text.slice(offset).trim()).toBe('');
      }),
      { numRuns: 500 },
    );
  });
});
