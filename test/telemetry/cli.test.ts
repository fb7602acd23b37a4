import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../support/postgres.ts';

const root = path.resolve(import.meta.dirname, '../..');
const STORAGE_VARS = ['DATABASE_URL', 'EVENTSTORE_URL', 'EVENT_STORE', 'EVENT_STORE_SCHEMA', 'READ_MODEL_SCHEMA', 'DATA_DIR', 'PROJECTOR_MODE', 'ENCRYPTION_KEY', 'PORT'];

/** `openclaw-service <args>` with only the given settings; its exit code and everything it printed. */
const run = async (args: string[], env: Record<string, string> = {}) => {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !STORAGE_VARS.includes(k)));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], {
      cwd: root,
      env: { ...inherited, LOG_LEVEL: 'warn', ...env },
      timeout: 150_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

/** At most three at once: each is a Node process compiling TypeScript on a shared 2-core machine. */
const inTurns = async <T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += 3) results.push(...(await Promise.all(items.slice(i, i + 3).map(work))));
  return results;
};

const PROMISED = [
  'dev', 'start', 'migrate', 'onboard', 'deploy-knight', 'tenants list', 'projections status', 'projections rebuild',
  'audit export', 'audit verify', 'audit state', 'agent-bridge', 'status', 'config',
];

describe('openclaw-service CLI', () => {
  it('a bad configuration stops start-up with one line naming the variable and what it expects, no stack trace, exit code 2', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['dev'], { PORT: 'abc' }, /^invalid configuration: PORT: expected the HTTP port, a decimal integer 0–65535 \(got "abc"\)$/],
      // Number() reads these as 1000 and 80: a port must be written in decimal digits
      [['dev'], { PORT: '1e3' }, /^invalid configuration: PORT: expected the HTTP port, a decimal integer 0–65535 \(got "1e3"\)$/],
      [['dev'], { PORT: '0x50' }, /^invalid configuration: PORT: expected the HTTP port, a decimal integer 0–65535 \(got "0x50"\)$/],
      // every numeric setting, not only ports (test/telemetry/config-numbers.test.ts covers each one)
      [['dev'], { PG_POOL_SIZE: '1e3' }, /^invalid configuration: PG_POOL_SIZE: expected a decimal integer 1–100 \(got "1e3"\)$/],
      [['api'], { DATABASE_URL: TEST_DATABASE_URL, PORT: '0' }, /^invalid configuration: ENCRYPTION_KEY: required by the api role: .*base64/],
      [
        ['api'],
        { DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/test', PORT: '0', ENCRYPTION_KEY: randomBytes(32).toString('base64') },
        /^invalid configuration: DATABASE_URL: cannot reach postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test \(ECONNREFUSED/,
      ],
      [['start', '--roles', 'projector'], { DATABASE_URL: TEST_DATABASE_URL, METRICS_PORT: '70000' }, /^invalid configuration: METRICS_PORT: expected the metrics port/],
    ];
    const results = await inTurns(cases, ([args, env]) => run(args, env));
    results.forEach((r, i) => {
      const [, , expected] = cases[i]!;
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(expected);
      expect(r.stderr).not.toContain('hunter2');
    });
  }, 400_000);

  it('--help works on every command and says what it does: the whole command tree in process, and the binary for a few', async () => {
    const { program } = await import('../../runtime/cli-program.ts');
    // every command of the tree, by its path; its help is what `--help` prints
    const tree: { path: string; help: string; options: string[] }[] = [];
    const walk = (command: Command, path: string[]) => {
      for (const sub of command.commands) {
        const at = [...path, sub.name()];
        tree.push({ path: at.join(' '), help: sub.helpInformation(), options: sub.options.map((o) => o.long ?? '') });
        walk(sub, at);
      }
    };
    walk(program, []);
    for (const { path, help } of tree) {
      expect(help, path).toMatch(new RegExp(`^Usage: openclaw-service ${path.replace(/-/g, '\\-')}( |$)`, 'm'));
      // a description: the paragraph between the usage line and "Options:"
      expect(help.split(/^Options:$/m)[0]!.split('\n').slice(1).join(' ').trim(), `${path} has a description`).not.toBe('');
    }
    const paths = tree.map((c) => c.path);
    for (const promised of PROMISED) expect(paths, promised).toContain(promised);
    // --json wherever the output is data
    for (const data of ['status', 'config', 'onboard', 'deploy-knight', 'tenants list', 'projections status', 'bus status', 'billing reconcile'])
      expect(tree.find((c) => c.path === data)?.options, `${data} --json`).toContain('--json');
    // the binary prints the same help and exits 0 (the root, a command, a nested command)
    const picked = [[], ['onboard'], ['tenants', 'list'], ['audit', 'verify']];
    const results = await inTurns(picked, (c) => run([...c, '--help']));
    results.forEach((r, i) => {
      const path = picked[i]!.join(' ');
      expect(r.code, `${path} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe((path ? tree.find((c) => c.path === path)!.help : program.helpInformation()).trim());
    });
  }, 300_000);

  it('config prints every variable with its effective value, secrets masked', async () => {
    const secret = 'a-jwt-secret-that-is-long-enough-to-be-real';
    const r = await run(['config', '--json'], { JWT_SECRET: secret, DATABASE_URL: 'postgres://app:pa55word@db:5432/openclaw', PORT: '9000' });
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(config).toMatchObject({ PORT: 9000, HOST: '127.0.0.1', JWT_SECRET: `*** (${secret.length} chars)`, DATABASE_URL: 'postgres://app:***@db:5432/openclaw' });
    expect(r.stdout).not.toContain(secret);
    expect(r.stdout).not.toContain('pa55word');
    expect(Object.keys(config)).toContain('ORGO_API_KEY');
  }, 60_000);
});
