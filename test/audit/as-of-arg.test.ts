import { expect, it } from 'vitest';
import { asOfArg } from '../../runtime/audit-cli.ts';

it('audit state --as-of refuses a calendar date that does not exist (the API answers 400 for it)', () => {
  // V8 rolls 2026-02-30 over to 2026-03-02: the state of another day than the one asked for
  expect(() => asOfArg('2026-02-30T00:00:00Z')).toThrow(/--as-of/);
});

it('audit state --as-of still takes a position, a time with offset and a plain day', () => {
  expect(asOfArg('42')).toEqual({ position: 42n });
  expect(asOfArg('2026-02-28T10:00:00+02:00')).toEqual({ time: new Date('2026-02-28T08:00:00Z') });
  expect(asOfArg('2028-02-29')).toEqual({ time: new Date('2028-02-29T00:00:00Z') });
  expect(() => asOfArg('2026-13-01')).toThrow(/--as-of/);
  expect(() => asOfArg('2026-02-29')).toThrow(/--as-of/);
});
