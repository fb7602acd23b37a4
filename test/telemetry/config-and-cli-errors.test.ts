import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { effectiveConfig } from '../../runtime/config-schema.ts';
import { loadConfig } from '../../runtime/config.ts';
import { checkReachable } from '../../runtime/preflight.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** `openclaw-service <args>` with a minimal environment; exit code and output. */
const run = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

describe('configuration: passwords in URL queries, blank values', () => {
  // libpq and node-postgres (pg-connection-string) take the password from ?password= too
  it('`config` masks a DATABASE_URL password given as a query parameter', () => {
    const shown = effectiveConfig({ DATABASE_URL: 'postgres://app@db.internal:5432/openclaw?password=hunter2' });
    expect(String(shown.DATABASE_URL)).not.toContain('hunter2');
  });

  it('an unreachable DATABASE_URL is named without its ?password=', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app@127.0.0.1:1/openclaw?password=hunter2' });
    const error = await checkReachable(config, 1_000).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('`config` masks credentials in any URL, whatever the variable is called (an OTLP endpoint with user info)', () => {
    const shown = effectiveConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:s3cretpw@otlp.example.com:4318' });
    expect(String(shown.OTEL_EXPORTER_OTLP_ENDPOINT)).not.toContain('s3cretpw');
    expect(String(shown.OTEL_EXPORTER_OTLP_ENDPOINT)).toContain('otlp.example.com');
  });

  it('a blank PORT (whitespace) is refused, not taken as port 0 (a random port)', () => {
    expect(() => loadConfig({ PORT: ' ' })).toThrow(/PORT/);
  });
});

describe('CLI failures are one line', () => {
  it('an unreachable server is one line naming it, not a stack trace', async () => {
    const r = await run(['status', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('deploy-knight --timeout abc is refused before anything is requested (exit 2), not a knight left behind', async () => {
    // the server URL is unreachable on purpose: a request would fail with "cannot reach" (exit 1) instead
    const r = await run(['deploy-knight', '--url', 'http://127.0.0.1:1', '--operator-key', 'ocs_aaaaaaaaaaaa_bbbb', '--tenant', 'acme', '--task', 'x', '--timeout', 'abc']);
    expect([r.code, r.stderr.trim()]).toEqual([2, expect.stringContaining('--timeout')]);
  }, 60_000);

  it('agent-bridge with a LOG_LEVEL it does not know: one line naming the variable, exit 2', async () => {
    const r = await run(['agent-bridge'], { LOG_LEVEL: 'verbose' });
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([2, [expect.stringContaining('LOG_LEVEL')]]);
  }, 60_000);

  it('a server that answers something other than JSON (a proxy\'s error page) is one line saying so, exit 1', async () => {
    const proxy = http.createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const r = await run(['tenants', 'list', '--url', url, '--operator-key', 'ocs_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbb']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toEqual([expect.stringMatching(/502.*not a JSON answer/)]);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 60_000);
});
