import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateOperatorKey } from '../../runtime/operator-key.ts';

describe("the embedded default's operator key file", () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const dataDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'operator-key-'));
    dirs.push(dir);
    return dir;
  };

  it('mints a key on first start and reuses it', async () => {
    const dir = await dataDir();
    const first = await loadOrCreateOperatorKey(dir, undefined);
    expect(first).toMatchObject({ created: true, key: expect.stringMatching(/^ocs_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/) });
    expect(await loadOrCreateOperatorKey(dir, undefined)).toEqual({ ...first, created: false });
  });

  it('a hand-written key of the right form but a guessable secret is refused with the file named, not used', async () => {
    const dir = await dataDir();
    const weak = `ocs_admin0000000_${'admin'.repeat(9).slice(0, 43)}`;
    await writeFile(path.join(dir, 'operator-key'), `${weak}\n`);
    const refused = loadOrCreateOperatorKey(dir, undefined);
    await expect(refused).rejects.toThrow(/operator-key: the operator key there must have a random secret .*; delete the file to have one minted$/);
    await expect(refused).rejects.not.toThrow(weak);
    expect(await readFile(path.join(dir, 'operator-key'), 'utf8')).toBe(`${weak}\n`); // left as it was
  });
});
