import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../http/support/client.ts';
import { chatConversation, history, historyIfAny, startBotsHarness, tenantClient, waitFor } from './support.ts';
import type { BotsHarness } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const KILLS = Number(process.env.BOTS_KILLS ?? 20);
const CHATS = 10;
const REPLIES = Number(process.env.BOTS_REPLIES ?? 200);

/** Rows of the delivery outbox matching a condition. */
const outboxRows = async (h: BotsHarness, where: string) => {
  const db = new pg.Client({ connectionString: h.storageEnv.DATABASE_URL });
  await db.connect();
  try {
    return (await db.query(`SELECT * FROM ${h.storageEnv.EVENT_STORE_SCHEMA}.bot_outbox WHERE ${where}`)).rows;
  } finally {
    await db.end();
  }
};

describe('the delivery worker killed with SIGKILL again and again', () => {
  let h: BotsHarness;
  // the worker's send journal, on a disk that outlives it, as a volume would in production
  const journalFile = path.join(mkdtempSync(path.join(tmpdir(), 'bots-journal-')), 'bots-send.journal');
  const children: ChildProcess[] = [];
  /** What each worker printed (warnings and up): its lines about sends that may have gone are printed with the figures. */
  const outputs: (() => string)[] = [];
  beforeAll(async () => {
    h = await startBotsHarness({ bots: false });
  }, 120_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await h?.close();
  });

  /** `openclaw-service bots` against the same PostgreSQL, resolving once its banner is out. */
  const startWorker = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'bots'], {
      cwd: root,
      env: { ...process.env, ...h.storageEnv, LOG_LEVEL: 'warn', BUS: 'local', BUS_RETRY_MS: '50', BOTS_SEND_JOURNAL: journalFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    outputs.push(() => out);
    await waitFor(`the bots banner (output so far: ${out})`, () => /bots running/.test(out) || child.exitCode !== null || undefined, 90_000);
    if (child.exitCode !== null) throw new Error(`the worker exited: ${out}`);
    return child;
  };
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  it(`${REPLIES} answers in ${CHATS} chats while the worker is killed ${KILLS} times: none is sent twice, every one is settled, and any not received was an interrupted send that had left`, async () => {
    const { me } = await tenantClient(h);
    const bot = h.telegram.addBot();
    ok(await me.post('/channels/telegram', { token: bot.token }), 200);
    for (let c = 1; c <= CHATS; c++) expect((await h.telegram.userSays(bot.token, { chatId: 9000 + c, text: `hello from ${c}` })).status).toBe(200);
    const conversationOf = new Map<number, string>();
    for (let c = 1; c <= CHATS; c++) conversationOf.set(9000 + c, await chatConversation(me, 'telegram', 9000 + c));

    // a backlog of answers in every chat, then a worker killed each time it is in the middle of sending
    for (let i = 0; i < REPLIES; i++) {
      const chat = 9000 + (i % CHATS) + 1;
      ok(await me.post(`/conversations/${conversationOf.get(chat)}/messages`, { text: `answer ${i}`, role: 'agent' }), 201);
    }
    let killedWithSendsAfter = 0;
    for (let k = 0; k < KILLS; k++) {
      const worker = await startWorker();
      const sentBefore = h.telegram.sent(bot.token).length;
      const after = sentBefore + 1 + Math.floor(Math.random() * 5);
      if (after > REPLIES) break;
      await waitFor('sends from this worker', () => h.telegram.sent(bot.token).length >= after || undefined, 90_000);
      await kill(worker);
      killedWithSendsAfter++;
    }
    const last = await startWorker();
    // every answer settled in the log and the history
    for (let c = 1; c <= CHATS; c++)
      await waitFor(
        `chat ${c} settled`,
        async () => {
          const rows = await historyIfAny(me, conversationOf.get(9000 + c)!);
          return (rows?.length === 1 + REPLIES / CHATS && rows.every((m) => m.role === 'user' || m.delivery === 'delivered')) || undefined;
        },
        240_000,
      );
    await new Promise((r) => setTimeout(r, 1_000)); // nothing more trickles in
    const counts = new Map<string, number>();
    for (const m of h.telegram.sent(bot.token)) counts.set(m.text, (counts.get(m.text) ?? 0) + 1);
    const expected = Array.from({ length: REPLIES }, (_, i) => `answer ${i}`);
    const duplicated = expected.filter((t) => (counts.get(t) ?? 0) > 1);
    const lost = expected.filter((t) => !counts.has(t));
    const interrupted = await outboxRows(h, `unconfirmed > 0`);
    const idOf = new Map<string, string>();
    if (lost.length > 0)
      for (let c = 1; c <= CHATS; c++) for (const m of await history(me, conversationOf.get(9000 + c)!)) idOf.set(m.text, `${m.messageId} in chat ${9000 + c}`);
    console.log(
      `kill test: ${KILLS} kills (${killedWithSendsAfter} while sending), ${REPLIES} answers: ${REPLIES - lost.length} received once, ` +
        `${duplicated.length} twice or more, ${lost.length} never received; ${interrupted.length} sends interrupted after their request left (counted as sent, not repeated)` +
        (lost.length > 0 ? `; never received: ${lost.map((t) => `${t} (${idOf.get(t)})`).join(', ')}` : ''),
    );
    const warnings = outputs.flatMap((o) => o().split('\n').filter((l) => l.startsWith('{')));
    if (warnings.length > 0) console.log(`the workers said:\n${warnings.join('\n')}`);
    expect(duplicated).toEqual([]); // never sent twice
    // A send cut off before its request left is sent again (the send journal); what may still go missing is
    // only a send the journal saw leave that the double never recorded: an interrupted send, flagged as such.
    // Four runs on 2026-12-01: 0, 0, 0 and 1 lost of 200 (16–19 before the journal).
    expect(lost.length).toBeLessThanOrEqual(interrupted.length);
    expect(killedWithSendsAfter).toBeGreaterThan(KILLS / 2); // the kills did land while sending
    await kill(last);
  }, 600_000);
});
