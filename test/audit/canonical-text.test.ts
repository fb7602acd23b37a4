import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJsonText } from '../../adapters/event-store/canonical-text.ts';
import { canonicalJson } from '../../adapters/event-store/chain.ts';

/** JSON text laid out as PostgreSQL prints jsonb: `{"k": v, "k2": v2}`, keys shortest first. */
const jsonbStyle = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(jsonbStyle).join(', ')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonbStyle((value as Record<string, unknown>)[k])}`).join(', ')}}`;
};

const layouts = (value: unknown): string[] => [JSON.stringify(value), JSON.stringify(value, null, 2), jsonbStyle(value)];
const anyJson = fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' }), fc.jsonValue({ stringUnit: 'grapheme' }));

describe('canonical JSON from text (what audit verify hashes)', () => {
  it('gives exactly what parsing and serialising canonically gives, whatever the layout, key order or characters', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        for (const text of layouts(value)) expect(canonicalJsonText(text)).toBe(canonicalJson(JSON.parse(text)));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes numbers, escapes and repeated keys as JSON.parse then JSON.stringify would', () => {
    const texts = [
      '{"n": 1e21, "m": 1E-7, "z": -0, "f": 1.50, "big": 12345678901234567890, "e": 1e400, "i": -15, "zero": 0}',
      '{"s": "tab\\there \\u0041 \\/ \\"q\\" \\ud83d\\ude00 \\udc00", "\\u00e9": 1, "é": 2, "e\\u0301": 3}',
      '{"a": 1, "b": {"a": 2, "a": 3}, "a": 4}',
      '{"__proto__": {"x": 1}, "constructor": 2, "B": 3, "a": 4, "ä": 5, "😀": 6, "\uffff": 7}',
      '  [ ]  ',
      '"plain"',
      '-12.5e3',
      'null',
    ];
    for (const text of texts) expect(canonicalJsonText(text)).toBe(canonicalJson(JSON.parse(text)));
  });

  it('leaves out the top-level key it is told to (the EventStoreDB hash key), and only there', () => {
    expect(canonicalJsonText('{"$hash": "ab", "b": 1, "a": {"$hash": 2}}', '$hash')).toBe('{"a":{"$hash":2},"b":1}');
  });

  it('refuses text that is not JSON', () => {
    for (const text of ['', '{', '{"a" 1}', '{"a": 1,}', '[1 2]', '"open', 'tru', '{"a": 01}', '1 2', '"bad\u0001"'])
      expect(() => canonicalJsonText(text), text).toThrow(SyntaxError);
  });
});
