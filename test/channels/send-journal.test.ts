import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSendJournal } from '../../adapters/channels/send-journal.ts';
import type { OpenedJournal } from '../../adapters/channels/send-journal.ts';

/**
 * The bots worker's send journal: a line exactly for the requests whose bytes left, written in the
 * same step, so a restarted worker can tell an interrupted send that never left (send it) from one
 * that did (never again).
 */
describe('the send journal', () => {
  let server: http.Server;
  let base: string;
  const received: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        if (req.url === '/hang') return; // never answers
        if (req.url === '/busy') return void res.writeHead(429, { 'content-type': 'application/json' }).end('{"ok":false,"error_code":429,"parameters":{"retry_after":1}}');
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (journal: OpenedJournal, url: string, body: string, timeoutMs = 2_000) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent: journal.agents.http, timeout: timeoutMs }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });

  const fresh = () => path.join(mkdtempSync(path.join(tmpdir(), 'journal-test-')), 'bots-send.journal');
  const opened = (file: string): OpenedJournal => {
    const journal = openSendJournal(file);
    if ('unavailable' in journal) throw new Error(journal.unavailable);
    return journal;
  };

  it('records a send whose request left, and only that one, on new and reused connections', async () => {
    const file = fresh();
    const journal = opened(file);
    await journal.around('m1', 0, () => post(journal, `${base}/`, 'one'));
    await journal.around('m1', 1, () => post(journal, `${base}/`, 'two')); // a kept-alive connection
    await post(journal, `${base}/`, 'not journaled'); // outside a send: no line
    // a request that never leaves (nothing listens there) writes no line
    await expect(journal.around('m2', 0, () => post(journal, 'http://127.0.0.1:1/', 'refused'))).rejects.toThrow();
    // a request that left and got no answer is recorded as left
    await expect(journal.around('m3', 0, () => post(journal, `${base}/hang`, 'hangs', 300))).rejects.toThrow('timeout');
    expect([journal.left('m1', 0), journal.left('m1', 1), journal.left('m2', 0), journal.left('m3', 0)]).toEqual([true, true, false, true]);
    journal.close();
    expect(readFileSync(file, 'utf8').split('\n').slice(1)).toEqual(['m1\t0', 'm1\t1', 'm3\t0', '']);
  });

  it('withdraws the line of a request the platform answered with an error, and journals the retry on its own', async () => {
    const file = fresh();
    const journal = opened(file);
    // a 429 sent nothing: a worker killed while waiting to retry must send the part again
    await journal.around('r', 0, () => post(journal, `${base}/busy`, 'too fast'));
    expect(journal.left('r', 0)).toBe(false);
    // the retry inside the same send leaves, and is what the journal now records
    await journal.around('r', 1, async () => {
      await post(journal, `${base}/busy`, 'too fast');
      return post(journal, `${base}/`, 'then fine');
    });
    expect(journal.left('r', 1)).toBe(true);
    journal.close();
    const next = opened(file); // the next process reads the withdrawal back
    expect([next.left('r', 0), next.left('r', 1)]).toEqual([false, true]);
    next.close();
  });

  it('closes a connection left idle before a server would, so a send never goes out on one being closed', async () => {
    const journal = openSendJournal(fresh(), { idleSocketMs: 150 });
    if ('unavailable' in journal) throw new Error(journal.unavailable);
    const closedBy = new Promise<string>((resolve) => {
      server.once('connection', (socket) => {
        socket.once('end', () => resolve('the client')); // its FIN
        socket.once('close', () => resolve('the server'));
      });
    });
    // the server keeps idle connections for 5 s (Node's default); the worker lets go first
    await journal.around('i', 0, () => post(journal, `${base}/`, 'one'));
    expect(await closedBy).toBe('the client');
    journal.close();
  });

  it('is read back by the next process of the same boot, kept to the open attempts, and not trusted after a reboot', async () => {
    const file = fresh();
    const first = opened(file);
    await first.around('a', 0, () => post(first, `${base}/`, 'a'));
    await first.around('b', 2, () => post(first, `${base}/`, 'b'));
    first.close();
    const second = opened(file);
    expect(second.id).toBe(first.id);
    expect([second.left('a', 0), second.left('b', 2), second.left('c', 0)]).toEqual([true, true, false]);
    second.compact((key) => key === 'b');
    second.close();
    const third = opened(file);
    expect([third.left('a', 0), third.left('b', 2)]).toEqual([false, true]);
    third.close();
    // written in another boot: its lines may be incomplete, so it starts again under another id
    writeFileSync(file, readFileSync(file, 'utf8').replace(/ boot \S+/, ' boot another-boot'));
    const afterReboot = opened(file);
    expect(afterReboot.id).not.toBe(first.id);
    expect(afterReboot.left('b', 2)).toBe(false);
    afterReboot.close();
  });

  it('is refused to a second process while its holder runs', () => {
    const file = fresh();
    writeFileSync(`${file}.lock`, String(process.ppid)); // a live process that is not us
    expect(openSendJournal(file)).toEqual({ unavailable: expect.stringContaining(`in use by process ${process.ppid}`) });
  });
});

describe('a send journal that cannot be written', () => {
  it('is reported unavailable instead of stopping the worker', () => {
    const blocker = path.join(mkdtempSync(path.join(tmpdir(), 'journal-test-')), 'a-file');
    writeFileSync(blocker, '');
    expect(openSendJournal(path.join(blocker, 'bots-send.journal'))).toEqual({ unavailable: expect.stringContaining('bots-send.journal') });
  });
});
