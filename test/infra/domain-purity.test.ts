import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });
const purityErrors = async (code: string, file = 'domain/tenant/fixture.ts') => {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'local/domain-purity').map((m) => m.message);
};

describe('the domain purity check (part of `npm run lint`)', () => {
  it.each([
    ["import pg from 'pg';", 'pg'],
    ["import { readFile } from 'node:fs/promises';", 'node:fs/promises'],
    ["import { x } from '../../adapters/event-store/postgres.ts';", 'adapters'],
    ["export { y } from '../../runtime/config.ts';", 'runtime'],
    ['export const now = () => Date.now();', 'Date'],
    ['export const at = () => new Date();', 'Date'],
    ['export const roll = () => Math.random();', 'Math.random'],
    ['export const id = () => crypto.randomUUID();', 'crypto'],
    ['export const env = () => process.env.X;', 'process'],
    ["export const get = () => fetch('http://x');", 'fetch'],
    ['export const later = (f: () => void) => setTimeout(f, 1);', 'setTimeout'],
    ["export const load = () => import('node:fs');", 'import()'],
  ])('rejects %s', async (code, what) => {
    const errors = await purityErrors(code);
    expect(errors.length, `expected a purity error for ${what}`).toBeGreaterThan(0);
  });

  it('accepts pure code that imports only from domain/ and names things like globals as properties', async () => {
    const code = [
      "import { domainError } from '../shared/errors.ts';",
      "import type { Tier } from '../tiers.ts';",
      'export const f = (c: { at: string; process: number }, tier: Tier) => ({ date: c.at, process: c.process, tier, domainError });',
    ].join('\n');
    expect(await purityErrors(code)).toEqual([]);
  });

  it('does not apply outside domain/', async () => {
    expect(await purityErrors('export const now = () => Date.now();', 'commands/x.ts')).toEqual([]);
  });

  it('passes on the real domain/ folder', async () => {
    const results = await eslint.lintFiles(['domain/**/*.ts']);
    const purity = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'local/domain-purity').map((m) => `${r.filePath}: ${m.message}`));
    expect(purity).toEqual([]);
  });
});
