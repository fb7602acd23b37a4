import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.ts';
import { openStorage } from '../../runtime/stores.ts';

/** Every path under `dir` another local user could read or write (through a searchable chain of directories). */
const reachable = (dir: string): string[] => {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      if ((st.mode & 0o001) === 0) return; // others cannot enter: nothing below is reachable
      for (const name of readdirSync(p)) walk(path.join(p, name));
    } else if (st.mode & 0o006) out.push(`${path.relative(dir, p)} ${(st.mode & 0o777).toString(8)}`);
  };
  walk(dir);
  return out;
};

describe('the embedded DATA_DIR', () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'rv-datadir-'));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it("the embedded database's files cannot be read or written by other local users", async () => {
    const dataDir = path.join(parent, 'data'); // like the default ".data": created by the service
    const storage = await openStorage(loadConfig({ DATA_DIR: dataDir }), 'test');
    await storage.close();
    const exposed = reachable(dataDir);
    expect(exposed.slice(0, 3), `${exposed.length} files`).toEqual([]);
  }, 60_000);
});
