import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { withJwtSecret } from '../../runtime/jwt-secret.ts';
import { createLogger } from '../../runtime/logger.ts';
import { withLogFields } from '../../adapters/telemetry/log-context.ts';

const capture = (format: 'json' | 'pretty') => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { log: createLogger('info', format, out), text: () => text };
};

const SECRETS = {
  token: 'tok-123456789',
  password: 'hunter2-password',
  apiKey: 'ocs_abc_secretpart',
  botToken: '123456:AAF-bot-token',
  appSecret: 'whatsapp-app-secret',
  accessToken: 'EAAG-access-token',
  privateKey: '-----BEGIN PRIVATE KEY-----',
};

describe('logs', () => {
  it("carry the work's fields on every line, and one line's own fields never on the next", async () => {
    const { log, text } = capture('json');
    await withLogFields({ tenantId: 'acme', requestId: 'r-1' }, async () => {
      log.warn({ err: 'first failed', attempt: 1 }, 'first');
      await new Promise((r) => setImmediate(r));
      await withLogFields({ consumer: 'bots' }, async () => log.info('second'));
      log.info('third');
    });
    log.info('outside');
    log.flush();
    await new Promise((r) => setImmediate(r));
    const [first, second, third, outside] = text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ tenantId: 'acme', requestId: 'r-1', err: 'first failed', attempt: 1 });
    expect(second).toMatchObject({ tenantId: 'acme', requestId: 'r-1', consumer: 'bots', msg: 'second' });
    expect(second).not.toHaveProperty('err');
    expect(third).toMatchObject({ tenantId: 'acme', requestId: 'r-1', msg: 'third' });
    expect(third).not.toHaveProperty('consumer');
    expect(third).not.toHaveProperty('attempt');
    expect(outside).not.toHaveProperty('tenantId');
  });

  it('redact secrets by configuration, at the top level, one level down and in request headers', async () => {
    const { log, text } = capture('json');
    log.info({ ...SECRETS, tenant: { id: 't1', ...SECRETS }, req: { headers: { authorization: 'Bearer eyJ-jwt', 'x-api-key': 'ocs_k_s' } } }, 'hello');
    log.flush();
    await new Promise((r) => setImmediate(r));
    const entry = JSON.parse(text()) as Record<string, unknown> & { tenant: Record<string, unknown>; req: { headers: Record<string, string> } };
    for (const [field, value] of Object.entries(SECRETS)) {
      expect(text()).not.toContain(value);
      expect(entry[field]).toBe('[redacted]');
      expect(entry.tenant[field]).toBe('[redacted]');
    }
    expect(entry.tenant.id).toBe('t1');
    expect(entry.req.headers).toEqual({ authorization: '[redacted]', 'x-api-key': '[redacted]' });
    expect(entry.msg).toBe('hello');
  });

  it('pretty lines are readable and coloured, and redacted the same way', async () => {
    const { log, text } = capture('pretty');
    log.warn({ tenantId: 't1', botToken: SECRETS.botToken }, 'bot refused');
    await new Promise((r) => setImmediate(r));
    expect(text()).toMatch(/\x1b\[33mWARN \x1b\[0m bot refused .*tenantId=\x1b\[0mt1/);
    expect(text()).not.toContain(SECRETS.botToken);
    expect(text().trim().split('\n')).toHaveLength(1);
  });
});

describe('the embedded JWT signing secret', () => {
  it('is created once in DATA_DIR (mode 0600) and read back after a restart, so tokens stay valid; a configured one wins', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ocs-jwt-'));
    try {
      const first = await withJwtSecret(dir, { PORT: '0' });
      const again = await withJwtSecret(dir, { PORT: '0' });
      expect(first.JWT_SECRET!.length).toBeGreaterThanOrEqual(32);
      expect(again.JWT_SECRET).toBe(first.JWT_SECRET);
      expect((await stat(path.join(dir, 'jwt-secret'))).mode & 0o777).toBe(0o600);
      expect((await withJwtSecret(dir, { JWT_SECRET: 'x'.repeat(40) })).JWT_SECRET).toBe('x'.repeat(40));
      expect((await withJwtSecret(dir, { JWT_ALG: 'EdDSA' })).JWT_SECRET).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
