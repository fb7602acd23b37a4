import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { newMasterKey } from '../support/codec.ts';
import { TEST_DATABASE_URL } from '../support/postgres.ts';
import { expectOneReplyEach, history, newConversation } from './support.ts';

const root = path.resolve(import.meta.dirname, '../..');
const KILLS = 20;

describe('the agents role survives kill -9 under load (child process on PostgreSQL)', () => {
  let api: ApiHarness;
  const masterKey = newMasterKey(); // the agents process reads the messages and writes replies with the same key
  beforeAll(async () => {
    api = await startApiHarness({ ENCRYPTION_KEY: masterKey });
  });
  afterAll(async () => {
    await api.close();
  });

  const startAgents = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli.ts', 'agents'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: TEST_DATABASE_URL,
        EVENT_STORE: 'postgres',
        EVENT_STORE_SCHEMA: api.schemas.events,
        READ_MODEL_SCHEMA: api.schemas.readModels,
        ENCRYPTION_KEY: masterKey,
        AGENT_RUNTIME: 'local',
        AGENTS_PORT: '0',
        AGENTS_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // a process that dies while starting (a loaded machine's pool timeout) fails the test instead of hanging it
    const running = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('agents running') && resolve());
      void exited.then(() => reject(new Error('the agents process exited before it was running')));
    });
    return { child, running, exited };
  };

  it(`every user message is answered exactly once across ${KILLS} kills`, async () => {
    const { key } = await newTenant(client(api.baseUrl, api.operatorKey), 'enterprise');
    const me = client(api.baseUrl, key);
    const conversations = await Promise.all(Array.from({ length: 4 }, (_, i) => newConversation(me, `load ${i}`)));

    // Load while each process runs: a burst of messages over every conversation, then kill -9 at a random moment.
    let posted = 0;
    let lastPosted = 0n; // the log position of the last accepted post: the histories are read from there on (read-your-writes)
    const burst = async (round: number) => {
      for (let i = 0; i < 4; i++)
        await Promise.all(
          conversations.map(async (c) => {
            const reply = await me.post<{ position: string }>(`/conversations/${c}/messages`, { text: `what do I have? #${round}.${i}` });
            if (reply.status !== 201) return;
            posted += 1;
            if (BigInt(reply.body.position) > lastPosted) lastPosted = BigInt(reply.body.position);
          }),
        );
    };
    for (let kill = 0; kill < KILLS; kill++) {
      const agents = startAgents();
      await agents.running;
      await burst(kill);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
      agents.child.kill('SIGKILL');
      await agents.exited;
    }
    const last = startAgents();
    await last.running;
    try {
      const deadline = Date.now() + 180_000;
      for (;;) {
        // with every user message projected, `replies >= users` cannot stop the wait early on a lagging projector
        const all = (await Promise.all(conversations.map((c) => history(me, c, String(lastPosted))))).flat();
        const users = all.filter((m) => m.role === 'user').length;
        const replies = all.filter((m) => m.role === 'agent').length;
        if (replies >= users || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const all = (await Promise.all(conversations.map((c) => history(me, c, String(lastPosted))))).flat();
      expect(all.filter((m) => m.role === 'user').length).toBe(posted);
      expect(posted).toBe(KILLS * 16);
      expectOneReplyEach(all);
      expect(all.filter((m) => m.role === 'agent').length).toBe(posted);
    } finally {
      last.child.kill('SIGTERM');
      await last.exited;
    }
  }, 900_000);
});
