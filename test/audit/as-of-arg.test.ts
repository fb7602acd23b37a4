import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

it('audit state --as-of refuses a time without a UTC offset (it would be read in the machine’s time zone; the API answers 400 for it)', () => {
  for (const local of ['2026-02-28T10:00:00', '2026-02-28T10:00', '2026-02-28 10:00:00', '2026-02-28T10:00:00.123'])
    expect(() => asOfArg(local), local).toThrow(/--as-of: .*UTC offset/);
  expect(asOfArg('2026-02-28T10:00:00.5z')).toEqual({ time: new Date('2026-02-28T10:00:00.500Z') });
  expect(asOfArg('2026-02-28T10:00-05:00')).toEqual({ time: new Date('2026-02-28T15:00:00Z') });
});

it('the CLI refuses it in one line, exit code 2, before opening any store', async () => {
  const { runCli } = await import('../support/cli.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'as-of-cli-'));
  try {
    const run = await runCli(['audit', 'state', '--tenant', 'acme', '--as-of', '2026-02-28T10:00:00'], { DATA_DIR: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^--as-of: .*UTC offset.*"2026-02-28T10:00:00"$/)]);
    expect(await readdir(dir)).toEqual([]); // no store was opened
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
