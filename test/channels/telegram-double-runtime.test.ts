import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** The embedded default will start the Telegram double when no real token is configured, outside any test runner. */
describe('the Telegram double outside the test runner', () => {
  it('starts under plain node with tsx, answers getMe for its bot, and closes', async () => {
    const script = `
      const { startTelegramDouble } = await import('./adapters/channels/doubles/telegram-bot-api.ts');
      const double = await startTelegramDouble();
      const bot = double.addBot({ username: 'local_demo_bot' });
      const me = await (await fetch(new URL('./bot' + bot.token + '/getMe', double.apiRoot), { method: 'POST' })).json();
      await double.close();
      console.log(JSON.stringify(me));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 30_000 });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, result: { is_bot: true, username: 'local_demo_bot' } });
  });

  it('no double imports the test framework', async () => {
    for (const dir of ['test/doubles', 'adapters/channels/doubles'].map((d) => path.join(root, d)))
      for (const file of await readdir(dir)) expect(await readFile(path.join(dir, file), 'utf8'), file).not.toMatch(/from ['"]vitest/);
  });
});
