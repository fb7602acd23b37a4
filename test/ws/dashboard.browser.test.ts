import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page, WebSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessLiveFeed } from '../../adapters/live/in-process.ts';
import type { Pusher } from '../../adapters/ws/pusher.ts';
import { postMessage } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { asTenantId } from '../../domain/shared/ids.ts';
import { startApiHarness } from '../support/api-harness.ts';
import type { ApiHarness } from '../support/api-harness.ts';
import { client, ok } from '../http/support/client.ts';
import { newTenant } from '../http/support/journey.ts';
import { pusherOn } from './support.ts';

// CHROMIUM_PATH: any Chromium or Chrome (CI: the runner's Google Chrome); else Debian's, which `npm test` installs when missing
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The dashboard's event feed, oldest first (it lists newest first). */
const feedPositions = async (page: Page) => (await page.locator('#events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-position')))).reverse();

// The dashboard in real headless Chromium against the real stack (PostgreSQL, HTTP API, pusher).
describe('dashboard at / in headless Chromium', () => {
  let h: ApiHarness;
  let pusher: Pusher;
  let browser: Browser;
  const live = createInProcessLiveFeed();
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`no Chromium at ${CHROMIUM}: \`npm test\` installs Debian's (apt-get install -y chromium), or set CHROMIUM_PATH to a Chrome or Chromium; this test does not skip`);
    h = await startApiHarness();
    pusher = await pusherOn(h, {}, live);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await pusher?.close();
    await h?.close();
  });

  it('signs in with a key, shows a command issued over the API within 1 s, and resumes without a gap after the pusher restarts', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('pageerror', (e) => void problems.push(e.message));
    const response = await page.goto(`${h.baseUrl}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self';/);
    await expect(page.locator('#connection').getAttribute('data-state')).resolves.toBe('signed-out');

    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    const start = (await page.textContent('#position'))!.trim();
    expect(start).toMatch(/^\d+$/);

    const asA = client(h.baseUrl, a.key);
    const conversation = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Launch' }), 201);
    const posted = ok(await asA.post<{ position: string }>(`/conversations/${conversation.conversationId}/messages`, { text: 'Hello dashboard' }), 201);
    const sent = Date.now();
    await page.waitForSelector(`#events li[data-position="${posted.position}"]`, { timeout: 1_000 });
    const shownAfterMs = Date.now() - sent;
    await page.waitForSelector('#messages li:has-text("user: Hello dashboard")', { timeout: 1_000 });
    await page.waitForSelector('#conversations li:has-text("Launch")');
    expect(await page.textContent('#position')).toBe(posted.position);

    // the pusher restarts; commands go on meanwhile; the page resumes from its position
    await pusher.close();
    await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 10_000 });
    const knight = ok(await asA.post<{ knightId: string }>('/knights', { task: 'Build website' }), 202);
    let last = '';
    for (let i = 0; i < 3; i++) last = ok(await asA.post<{ position: string }>(`/conversations/${conversation.conversationId}/messages`, { text: `while away ${i}` }), 201).position;
    pusher = await pusherOn(h, {}, live);
    await page.waitForSelector(`#events li[data-position="${last}"]`, { timeout: 30_000 });
    await page.waitForSelector('#connection[data-state="live"]');
    const stored = (await h.storage.store.readAll({ after: BigInt(start), filter: { tenantId: a.tenantId } })).map((e) => e.position.toString());
    expect(await feedPositions(page)).toEqual(stored);
    await page.waitForSelector(`#knights li[data-id="${knight.knightId}"]:has-text("Build website")`);
    await page.waitForSelector('#messages li:has-text("while away 2")');
    // the page's reconnect attempts while no pusher listened are the only errors it may log
    expect(problems.filter((p) => !/WebSocket connection to .* failed/.test(p))).toEqual([]);
    process.stdout.write(`dashboard showed the API's message ${shownAfterMs} ms after the API answered\n`);
    await page.close();
  }, 180_000);

  /** A signed-in page, level with the live feed; `prepare` runs before the page loads (listeners, routes). */
  const signedIn = async (key: string, prepare?: (page: Page) => void) => {
    const page = await browser.newPage();
    prepare?.(page);
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    return page;
  };

  it('opens a long conversation at its newest messages, loads older ones on demand, and reads it once however often it is opened', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Long' }), 201);
    for (let i = 0; i < 105; i++) ok(await asA.post(`/conversations/${conversationId}/messages`, { text: `message ${i}` }), 201);
    const other = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Other' }), 201);
    const reads: string[] = [];
    const page = await signedIn(a.key, (p) => p.on('request', (r) => void (r.url().includes('/messages') && reads.push(new URL(r.url()).pathname.split('/')[4]!))));
    await page.click(`#conversations li[data-id="${conversationId}"] button`);
    await page.waitForSelector('#messages li:has-text("user: message 104")', { timeout: 10_000 });
    const shown = () => page.locator('#messages li').allTextContents();
    const newest = (n: number) => Array.from({ length: n }, (_, i) => `user: message ${105 - n + i}`);
    expect(await shown()).toEqual(newest(50));
    const older = page.getByRole('button', { name: 'Load older messages' });
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(newest(100));
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(newest(105));
    await expect(older.isHidden()).resolves.toBe(true);
    expect(reads.filter((id) => id === conversationId)).toHaveLength(3);
    // opened again after another one: shown from what was read, with what came live meanwhile
    await page.click(`#conversations li[data-id="${other.conversationId}"] button`);
    await expect.poll(() => page.locator('#conversation-title').textContent()).toBe('— Other');
    ok(await asA.post(`/conversations/${conversationId}/messages`, { text: 'while away' }), 201);
    await page.waitForSelector('#conversations li:first-child:has-text("Long")');
    await page.click(`#conversations li[data-id="${conversationId}"] button`);
    await expect.poll(shown, { timeout: 10_000 }).toEqual([...newest(105), 'user: while away']);
    expect(reads.filter((id) => id === conversationId)).toHaveLength(3);
    await page.close();
  }, 120_000);

  it('keeps the messages of the last conversations opened only: one opened long ago is read again, with what came meanwhile', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: `chat ${i}` }), 201);
      ok(await asA.post(`/conversations/${conversationId}/messages`, { text: `in chat ${i}` }), 201);
      ids.push(conversationId);
    }
    const reads: string[] = [];
    const page = await signedIn(a.key, (p) => p.on('request', (r) => void (r.url().includes('/messages') && reads.push(new URL(r.url()).pathname.split('/')[4]!))));
    await page.waitForSelector('#messages li:has-text("user: in chat 6")'); // the newest opens first
    const open = async (i: number, texts = [`user: in chat ${i}`]) => {
      await page.click(`#conversations li[data-id="${ids[i]}"] button`);
      await expect.poll(() => page.locator('#messages li').allTextContents(), { timeout: 10_000 }).toEqual(texts);
    };
    for (let i = 5; i >= 0; i--) await open(i);
    expect(reads).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => ids[i]));
    // chat 6 was opened seven conversations ago: no longer kept; chat 1 was opened just before chat 0: kept
    await open(1);
    ok(await asA.post(`/conversations/${ids[6]}/messages`, { text: 'while not kept' }), 201);
    await page.waitForSelector(`#conversations li:first-child:has-text("chat 6")`);
    await open(6, ['user: in chat 6', 'user: while not kept']);
    expect(reads).toEqual([6, 5, 4, 3, 2, 1, 0, 6].map((i) => ids[i]));
    await page.close();
  }, 120_000);

  it('cuts a conversation left for another to its newest 200 messages, and loads the older ones again in order', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const asA = client(h.baseUrl, a.key);
    const other = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Other' }), 201);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Long' }), 201);
    for (let i = 0; i < 230; i++) ok(await asA.post(`/conversations/${conversationId}/messages`, { text: `message ${i}` }), 201);
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: message 229")', { timeout: 10_000 });
    const shown = () => page.locator('#messages li').allTextContents();
    const newest = (n: number) => Array.from({ length: n }, (_, i) => `user: message ${230 - n + i}`);
    const older = page.getByRole('button', { name: 'Load older messages' });
    for (const n of [100, 150, 200, 230]) {
      await older.click();
      await expect.poll(shown, { timeout: 10_000 }).toEqual(newest(n));
    }
    await page.click(`#conversations li[data-id="${other.conversationId}"] button`);
    await expect.poll(() => page.locator('#conversation-title').textContent()).toBe('— Other');
    await page.click(`#conversations li[data-id="${conversationId}"] button`);
    await expect.poll(shown, { timeout: 10_000 }).toEqual(newest(200));
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(newest(230));
    await expect(older.isHidden()).resolves.toBe(true);
    await page.close();
  }, 120_000);

  /** A page signed in with `key` whose API answers are replaced by `routes` (registered before it loads). */
  const signedInWithRoutes = async (key: string, routes: (page: Page) => Promise<unknown>) => {
    const page = await browser.newPage();
    await routes(page);
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    return page;
  };
  const shownIds = (page: Page, list: string) => page.locator(`#${list} li`).evaluateAll((items) => items.map((li) => li.getAttribute('data-id')!));

  // failed knights went too (before, only terminated ones: failed ones piled up past the cap with every page)
  it.each(['terminated', 'failed'])('keeps at most 1,000 knights: past that the %s ones go, never a knight still at work nor the page "Load more" just read', async (ended) => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    // eleven pages of 100 knights, every other one terminated (or failed), as the API would list them
    const knight = (i: number) => ({ knightId: `k${i}`, task: `task ${i}`, status: i % 2 ? ended : 'working', progress: null });
    const page = await signedInWithRoutes(a.key, (p) =>
      p.route('**/api/v1/knights?*', (route) => {
        const n = Number(new URL(route.request().url()).searchParams.get('cursor') ?? '0');
        const items = Array.from({ length: 100 }, (_, i) => knight(1099 - (n * 100 + i)));
        return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items, next: n < 10 ? String(n + 1) : null }) });
      }),
    );
    const more = page.getByRole('button', { name: 'Load more knights' });
    for (let pages = 2; pages <= 11; pages++) {
      await more.click();
      await expect.poll(() => page.locator('#knights li').count(), { timeout: 10_000 }).toBe(Math.min(pages * 100, 1_000));
    }
    // the eleventh page keeps the count at the cap, so the count cannot tell when it has come: wait for its end of list
    await expect.poll(() => more.isHidden(), { timeout: 10_000 }).toBe(true);
    const shown = new Set(await shownIds(page, 'knights'));
    // the page the user asked for shows whole, its terminated knights too (before, only its 50 at work showed)
    expect(Array.from({ length: 100 }, (_, i) => `k${i}`).filter((id) => !shown.has(id))).toEqual([]);
    // to make room, the oldest terminated of the pages read before went; the newest knight and every one at work stay
    expect(shown.has('k1099')).toBe(true);
    expect(shown.has('k101') || shown.has('k299')).toBe(false);
    expect(shown.has('k301')).toBe(true);
    const statuses = await page.locator('#knights li').evaluateAll((items) => items.map((li) => li.getAttribute('data-status')));
    expect(statuses.filter((s) => s === 'working')).toHaveLength(550);
    await page.close();
  }, 120_000);

  it('keeps at most 1,000 conversations: the least recently active go, never the open one nor the page "Load more" just read', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    // twelve pages of 100 conversations, as the API would list them (newest first); c1199 was active last
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    const conversation = (i: number) => ({ conversationId: `c${i}`, channel: 'api', externalChatId: null, title: `chat ${i}`, status: 'open', messageCount: 1, lastMessageAt: at(i), createdAt: at(i) });
    let toPage: { send(message: string): void } | undefined;
    const page = await signedInWithRoutes(a.key, async (p) => {
      await p.route('**/api/v1/conversations?*', (route) => {
        const n = Number(new URL(route.request().url()).searchParams.get('cursor') ?? '0');
        const items = Array.from({ length: 100 }, (_, i) => conversation(1199 - (n * 100 + i)));
        return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items, next: n < 11 ? String(n + 1) : null }) });
      });
      await p.route('**/api/v1/conversations/*/messages*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items: [], next: null }) }));
      await p.route('**/api/v1/conversations/c301?*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...conversation(301), status: 'closed' }) }));
      await p.routeWebSocket('**/ws/tenant/**', (ws) => {
        ws.connectToServer();
        toPage = ws;
      });
    });
    const more = page.getByRole('button', { name: 'Load more conversations' });
    await expect.poll(() => page.locator('#conversations li').count(), { timeout: 10_000 }).toBe(100);
    for (let pages = 2; pages <= 10; pages++) {
      await more.click();
      await expect.poll(() => page.locator('#conversations li').count(), { timeout: 10_000 }).toBe(pages * 100);
    }
    // the user opens one of the least recently active: it stays however many come after it
    await page.click('#conversations li[data-id="c250"] button');
    await expect.poll(() => page.locator('#conversation-title').textContent()).toBe('— chat 250');
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `c${from + i}`);
    const missing = (shown: Set<string>, ids: string[]) => ids.filter((id) => !shown.has(id));
    const present = (shown: Set<string>, ids: string[]) => ids.filter((id) => shown.has(id));
    // the eleventh page: it shows whole; the 100 least recently active of the others went, the open one stayed
    await more.click();
    await expect.poll(async () => missing(new Set(await shownIds(page, 'conversations')), range(100, 199)), { timeout: 10_000 }).toEqual([]);
    let shown = new Set(await shownIds(page, 'conversations'));
    expect(shown.size).toBe(1_000);
    expect(present(shown, [...range(200, 249), ...range(251, 300)])).toEqual([]);
    expect(missing(shown, ['c250', ...range(301, 1199)])).toEqual([]);
    // the twelfth and last page: Load more goes on working past the cap
    await more.click();
    await expect.poll(() => more.isHidden(), { timeout: 10_000 }).toBe(true);
    shown = new Set(await shownIds(page, 'conversations'));
    expect(shown.size).toBe(1_000);
    expect(missing(shown, ['c250', ...range(0, 99), ...range(301, 1199)])).toEqual([]);
    // a conversation that starts now comes on top; the least recently active of the rest makes room
    const brandNew = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'brand new' }), 201).conversationId;
    await page.waitForSelector('#conversations li:first-child:has-text("brand new")', { timeout: 5_000 });
    shown = new Set(await shownIds(page, 'conversations'));
    expect(shown.size).toBe(1_000);
    expect(present(shown, ['c301'])).toEqual([]);
    expect(missing(shown, ['c250', 'c302', ...range(0, 99)])).toEqual([]);
    // an event of a conversation that went, not a message (it is closed): it comes back on top and stays
    // there once its title is read (before, it sank to the bottom by its start and the bound dropped it again)
    let position = BigInt((await page.textContent('#position'))!.trim()) + 1_000_000n; // far past the log: new
    const event = async (type: string, id: string, data: Record<string, unknown>) => {
      position += 1n;
      toPage!.send(JSON.stringify({ kind: 'event', position: String(position), type, streamId: `conversation-${a.tenantId}.${id}`, revision: 1, data: { ...data, at: new Date().toISOString() } }));
      await page.locator(`#events li[data-position="${position}"]`).waitFor({ timeout: 5_000 });
    };
    await event('ConversationClosed', 'c301', { reason: 'done' });
    await page.waitForSelector('#conversations li:first-child:has-text("chat 301 · closed")', { timeout: 5_000 });
    await event('ConversationStarted', 'c2000', { title: 'newer still', channel: 'api' });
    await page.waitForSelector('#conversations li:first-child:has-text("newer still")', { timeout: 5_000 });
    shown = new Set(await shownIds(page, 'conversations'));
    expect(shown.size).toBe(1_000);
    expect((await shownIds(page, 'conversations')).slice(0, 3)).toEqual(['c2000', 'c301', brandNew]);
    expect(present(shown, ['c302', 'c303'])).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows the older messages asked for past the 2,000 kept: the newest go instead, and "Jump to latest" brings them back', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Long' }), 201);
    // a chat of 2,600 messages, as the API would page it from the newest back (500 a page, to keep the test short)
    const message = (n: number) => ({ messageId: `m${n}`, seq: n + 1, place: String(n + 1), role: 'user', channel: 'api', text: `message ${n}`, delivery: null, inReplyTo: null, createdAt: new Date(Date.UTC(2026, 0, 1) + n * 1_000).toISOString() });
    let total = 2_600;
    let toPage: { send(message: string): void } | undefined;
    const page = await signedInWithRoutes(a.key, async (p) => {
      await p.route(`**/api/v1/conversations/${conversationId}/messages*`, (route) => {
        const before = new URL(route.request().url()).searchParams.get('before');
        const end = before === null ? total : Number(before) - 1; // places are n + 1
        const items = Array.from({ length: Math.min(500, end) }, (_, i) => message(end - 1 - i));
        return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items, next: end > 500 ? `<${end - 499}` : null }) });
      });
      await p.routeWebSocket('**/ws/tenant/**', (ws) => {
        ws.connectToServer();
        toPage = ws;
      });
    });
    // a message of the chat as the live feed brings it; far past the log's positions, so it counts as new
    let at = BigInt((await page.textContent('#position'))!.trim()) + 1_000_000n;
    const live = async (n: number) => {
      at += 1n;
      total = n + 1;
      toPage!.send(JSON.stringify({ kind: 'event', position: String(at), type: 'MessagePosted', streamId: `conversation-${a.tenantId}.${conversationId}`, revision: n + 1, data: { messageId: `m${n}`, role: 'user', text: `message ${n}`, at: new Date().toISOString() } }));
      await page.locator(`#events li[data-position="${at}"]`).waitFor({ timeout: 5_000 });
    };
    const shown = () => page.locator('#messages li').allTextContents();
    const messages = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `user: message ${from + i}`);
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(2_100, 2_599));
    const older = page.getByRole('button', { name: 'Load older messages' });
    const latest = page.getByRole('button', { name: 'Jump to latest' });
    for (const from of [1_600, 1_100, 600]) {
      await older.click();
      await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(from, 2_599));
    }
    await expect(latest.isHidden()).resolves.toBe(true);
    // past the 2,000 kept: the page asked for shows, the newest 500 go (before, the page came and went at once)
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(100, 2_099));
    await expect(latest.isVisible()).resolves.toBe(true);
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(0, 1_999));
    await expect(older.isHidden()).resolves.toBe(true);
    // a new message while scrolled back is not put after message 1999: it comes with the newest
    await live(2_600);
    expect(await shown()).toEqual(messages(0, 1_999));
    await latest.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(2_101, 2_600));
    await expect(latest.isHidden()).resolves.toBe(true);
    await expect(older.isVisible()).resolves.toBe(true);
    // at the newest end again, new messages are appended as they come
    await live(2_601);
    await expect.poll(shown, { timeout: 5_000 }).toEqual(messages(2_101, 2_601));
    await page.close();
  }, 120_000);

  it('leaves no hole in the messages when one comes live, or the conversation is left and opened again, while "Load older" is on its way', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const other = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Other' }), 201);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Long' }), 201);
    // a chat of 2,600 messages, as the API would page it from the newest back (500 a page); a page can be held back
    const message = (n: number) => ({ messageId: `m${n}`, seq: n + 1, place: String(n + 1), role: 'user', channel: 'api', text: `message ${n}`, delivery: null, inReplyTo: null, createdAt: new Date(Date.UTC(2026, 0, 1) + n * 1_000).toISOString() });
    let total = 2_600;
    let held: Promise<void> | null = null;
    let holding = false;
    let release = () => undefined as void;
    const hold = () => {
      held = new Promise<void>((resolve) => (release = resolve));
    };
    let toPage: { send(message: string): void } | undefined;
    const page = await signedInWithRoutes(a.key, async (p) => {
      await p.route(`**/api/v1/conversations/${conversationId}/messages*`, async (route) => {
        const before = new URL(route.request().url()).searchParams.get('before');
        const end = before === null ? total : Number(before) - 1; // places are n + 1
        const items = Array.from({ length: Math.min(500, end) }, (_, i) => message(end - 1 - i));
        if (held) {
          holding = true;
          await held;
          held = null;
          holding = false;
        }
        return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items, next: end > 500 ? `<${end - 499}` : null }) });
      });
      await p.routeWebSocket('**/ws/tenant/**', (ws) => {
        ws.connectToServer();
        toPage = ws;
      });
    });
    let at = BigInt((await page.textContent('#position'))!.trim()) + 1_000_000n; // far past the log: new
    const live = async (n: number) => {
      at += 1n;
      total = n + 1;
      toPage!.send(JSON.stringify({ kind: 'event', position: String(at), type: 'MessagePosted', streamId: `conversation-${a.tenantId}.${conversationId}`, revision: n + 1, data: { messageId: `m${n}`, role: 'user', text: `message ${n}`, at: new Date().toISOString() } }));
      await page.locator(`#events li[data-position="${at}"]`).waitFor({ timeout: 5_000 });
    };
    const open = async (id: string, title: string) => {
      await page.click(`#conversations li[data-id="${id}"] button`);
      await expect.poll(() => page.locator('#conversation-title').textContent()).toBe(`— ${title}`);
    };
    const shown = () => page.locator('#messages li').allTextContents();
    const messages = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `user: message ${from + i}`);
    const older = page.getByRole('button', { name: 'Load older messages' });
    await open(conversationId, 'Long');
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(2_100, 2_599));
    for (const from of [1_600, 1_100, 600]) {
      await older.click();
      await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(from, 2_599));
    }
    // 2,000 kept; the user asks for the 500 before message 600, and message 2600 comes before they do:
    // message 600 stays (before, it went to make room and was a hole in the middle for good)
    hold();
    await older.click();
    await expect.poll(() => holding, { timeout: 10_000 }).toBe(true);
    await live(2_600);
    release();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(100, 2_099));
    // at the newest page again, the user asks for older ones, then opens another conversation and this
    // one again before they come: this one was cut to its newest 200 meanwhile, the page no longer adjoins
    await page.getByRole('button', { name: 'Jump to latest' }).click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(2_101, 2_600));
    hold();
    await older.click();
    await expect.poll(() => holding, { timeout: 10_000 }).toBe(true);
    await open(other.conversationId, 'Other');
    await open(conversationId, 'Long');
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(2_401, 2_600));
    release();
    await expect.poll(() => older.isEnabled(), { timeout: 10_000 }).toBe(true);
    // the page that came is not put before message 2401 (before, 1601–2100 showed with 2101–2400 missing)
    expect(await shown()).toEqual(messages(2_401, 2_600));
    await older.click();
    await expect.poll(shown, { timeout: 10_000 }).toEqual(messages(1_901, 2_600));
    await page.close();
  }, 120_000);

  /** A tenant with two conversations: 'Older' ("from before"), then 'Newer' ("latest", shown first). */
  const tenantWithTwoConversations = async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const older = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Older' }), 201);
    ok(await asA.post(`/conversations/${older.conversationId}/messages`, { text: 'from before' }), 201);
    const newer = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Newer' }), 201);
    ok(await asA.post(`/conversations/${newer.conversationId}/messages`, { text: 'latest' }), 201);
    return { a, asA, older, newer };
  };

  it('still loads a conversation once its token has expired: it exchanges the key again', async () => {
    const { a, older } = await tenantWithTwoConversations();
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: latest")');
    // the 15-minute token runs out while the socket stays open: the API answers the next read 401
    let expired = 0;
    await page.route('**/api/v1/conversations/*/messages*', (route) =>
      expired++ === 0 ? route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer expired.token.value' } }) : route.continue(),
    );
    await page.click(`#conversations li[data-id="${older.conversationId}"]`);
    await page.waitForSelector('#messages li:has-text("user: from before")', { timeout: 10_000 });
    expect(expired).toBe(2);
    await expect(page.locator('#connection').getAttribute('data-state')).resolves.toBe('live');
    await page.close();
  }, 60_000);

  it('says in the panel, to screen readers too, when a conversation\'s messages cannot be loaded, and loads them on Retry', async () => {
    const { a, older } = await tenantWithTwoConversations();
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: latest")');
    let refused = 0;
    await page.route('**/api/v1/conversations/*/messages*', (route) =>
      refused++ === 0
        ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', detail: 'the database is unavailable' }) })
        : route.continue(),
    );
    await page.click(`#conversations li[data-id="${older.conversationId}"] button`);
    const alert = page.getByRole('alert').filter({ hasText: 'could not load the messages: the database is unavailable' });
    await alert.waitFor({ timeout: 10_000 });
    await expect(page.locator('#messages li').count()).resolves.toBe(0); // not the other conversation's messages
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForSelector('#messages li:has-text("user: from before")', { timeout: 10_000 });
    await expect(alert.isHidden()).resolves.toBe(true);
    expect(refused).toBe(2);
    await page.close();
  }, 60_000);

  it('can be used from the keyboard: the key field has a label and a conversation is chosen with Tab and Enter', async () => {
    const { a, asA, newer } = await tenantWithTwoConversations();
    const page = await browser.newPage();
    await page.goto(`${h.baseUrl}/`);
    await page.getByLabel('API key').fill(a.key);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('live');
    await page.waitForSelector('#messages li:has-text("user: latest")');
    await page.getByRole('button', { name: /^Newer/ }).focus();
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toMatch(/^Older/);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#messages li:has-text("user: from before")', { timeout: 5_000 });
    await expect(page.getByRole('button', { name: /^Older/ }).getAttribute('aria-current')).resolves.toBe('true');
    // redrawn lists (a click, a live event) keep the keyboard where it was
    ok(await asA.post(`/conversations/${newer.conversationId}/messages`, { text: 'meanwhile' }), 201);
    await page.waitForSelector('#conversations li:first-child:has-text("Newer")');
    await page.locator('#events li').first().waitFor();
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toMatch(/^Older/);
    await page.close();
  }, 60_000);

  it('says so when the tenant\'s data cannot be loaded, and loads it when the API answers again', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Existing' }), 201);
    ok(await asA.post(`/conversations/${conversationId}/messages`, { text: 'already there' }), 201);
    const page = await browser.newPage();
    let refused = 0;
    await page.route('**/api/v1/knights?*', (route) =>
      refused++ === 0
        ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', detail: 'the database is unavailable' }) })
        : route.continue(),
    );
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection:has-text("the database is unavailable")', { timeout: 10_000 });
    await page.waitForSelector('#conversations li:has-text("Existing")', { timeout: 10_000 });
    await page.waitForSelector('#messages li:has-text("user: already there")');
    await page.waitForSelector('#connection[data-state="live"]');
    expect(refused).toBe(2);
    await page.close();
  }, 60_000);

  it('loads the snapshot again while the read models are behind the live position (X-Read-Model-Lag)', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Not yet projected' }), 201);
    ok(await asA.post(`/conversations/${conversationId}/messages`, { text: 'in the log' }), 201);
    const page = await browser.newPage();
    // the first answer comes from read models still behind: without the conversation, and saying so
    let calls = 0;
    await page.route('**/api/v1/conversations?*', (route) =>
      calls++ === 0
        ? route.fulfill({ status: 200, contentType: 'application/json', headers: { 'X-Read-Model-Lag': '2', 'X-Read-Model-Position': '1' }, body: JSON.stringify({ items: [], next: null }) })
        : route.continue(),
    );
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection:has-text("the read models are 2 events behind")', { timeout: 10_000 });
    await page.waitForSelector('#conversations li:has-text("Not yet projected")', { timeout: 10_000 });
    await page.waitForSelector('#messages li:has-text("user: in the log")');
    await page.waitForSelector('#connection[data-state="live"]');
    expect(calls).toBe(2);
    await page.close();
  }, 60_000);

  it('says in the Knights and Conversations panels, as an alert, that they could not be loaded until they are', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const page = await browser.newPage();
    let refusing = true;
    await page.route('**/api/v1/knights?*', (route) =>
      refusing
        ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', detail: 'the database is unavailable' }) })
        : route.continue(),
    );
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    for (const panel of ['#knights-error', '#conversations-error'])
      await page.locator(panel).getByRole('alert').filter({ hasText: 'could not load: the database is unavailable' }).waitFor({ timeout: 10_000 });
    refusing = false;
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 20_000 });
    await expect(page.getByRole('alert').filter({ hasText: 'could not load' }).count()).resolves.toBe(0);
    await page.close();
  }, 60_000);

  it('gives up on an API call that does not answer in 15 s, says so, and loads the data when the API answers again', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    ok(await asA.post('/knights', { task: 'Hung at first' }), 202);
    const page = await browser.newPage();
    await page.clock.install(); // the page's timers, moved on by hand below
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    await page.route('**/api/v1/knights?*', async (route) => {
      if (calls++ > 0) return route.continue();
      await released; // the first snapshot read hangs
      await route.abort('timedout').catch(() => undefined); // the page gave up on it already
    });
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await expect.poll(() => calls, { timeout: 30_000 }).toBe(1);
    await page.clock.fastForward('00:16');
    await page.waitForSelector('#connection:has-text("no answer from the API in 15 s")', { timeout: 5_000 });
    await page.locator('#knights-error').getByRole('alert').filter({ hasText: 'no answer from the API in 15 s' }).waitFor({ timeout: 5_000 });
    await page.clock.fastForward('00:02'); // the snapshot is tried again
    await page.waitForSelector('#knights li:has-text("Hung at first")', { timeout: 10_000 });
    await page.waitForSelector('#connection[data-state="live"]');
    expect(calls).toBe(2);
    release();
    await page.close();
  }, 60_000);

  it('drops an agent\'s partial reply that arrives after the finished reply', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Ask' }), 201);
    const question = ok(await asA.post<{ messageId: string }>(`/conversations/${conversationId}/messages`, { text: 'question' }), 201);
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: question")');
    const partial = (seq: number, text: string) => live.publish(a.tenantId, { kind: 'agent.partial', conversationId, inReplyTo: question.messageId, text, seq });
    await partial(1, 'The ans');
    await page.waitForSelector('#partial:has-text("agent is writing: The ans")');
    const caller = { tenantId: asTenantId(a.tenantId), actor: 'agent:test', correlationId: randomUUID() };
    await postMessage(h.platform.ports, caller, conversationId, { text: 'The answer' }, { role: 'agent', inReplyTo: question.messageId });
    await page.waitForSelector('#messages li:has-text("agent: The answer")');
    await expect(page.locator('#partial').isHidden()).resolves.toBe(true);
    // the live topic lags behind the log: the reply's last partial comes after the reply itself
    await partial(2, 'The answer');
    ok(await asA.post(`/conversations/${conversationId}/messages`, { text: 'thanks' }), 201);
    await page.waitForSelector('#messages li:has-text("user: thanks")');
    await expect(page.locator('#partial').isHidden()).resolves.toBe(true);
    await page.close();
  }, 60_000);

  it("keeps each conversation's partial reply to itself: another conversation's neither shows nor replaces it", async () => {
    const { a, asA, older, newer } = await tenantWithTwoConversations();
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: latest")');
    const ask = async (conversationId: string, text: string) =>
      ok(await asA.post<{ messageId: string }>(`/conversations/${conversationId}/messages`, { text }), 201).messageId;
    const inNewer = await ask(newer.conversationId, 'question A');
    const inOlder = await ask(older.conversationId, 'question B');
    await page.waitForSelector('#messages li:has-text("user: question A")');
    await live.publish(a.tenantId, { kind: 'agent.partial', conversationId: newer.conversationId, inReplyTo: inNewer, text: 'Answer to A', seq: 1 });
    await page.waitForSelector('#partial:has-text("agent is writing: Answer to A")');
    await live.publish(a.tenantId, { kind: 'agent.partial', conversationId: older.conversationId, inReplyTo: inOlder, text: 'Answer to B', seq: 1 });
    // the frame for the other conversation reached the page (it shows once that one is open)
    await page.click(`#conversations li[data-id="${older.conversationId}"] button`);
    await page.waitForSelector('#messages li:has-text("user: question B")');
    await expect.poll(() => page.locator('#partial').textContent(), { timeout: 5_000 }).toBe('agent is writing: Answer to B');
    await page.click(`#conversations li[data-id="${newer.conversationId}"] button`);
    await page.waitForSelector('#messages li:has-text("user: question A")');
    await expect.poll(() => page.locator('#partial').textContent(), { timeout: 5_000 }).toBe('agent is writing: Answer to A');
    await expect(page.locator('#partial').isVisible()).resolves.toBe(true);
    // A's reply clears A's partial only
    const caller = { tenantId: asTenantId(a.tenantId), actor: 'agent:test', correlationId: randomUUID() };
    await postMessage(h.platform.ports, caller, newer.conversationId, { text: 'Answer to A, whole' }, { role: 'agent', inReplyTo: inNewer });
    await page.waitForSelector('#messages li:has-text("agent: Answer to A, whole")');
    await page.waitForSelector('#partial', { state: 'hidden', timeout: 5_000 });
    await page.click(`#conversations li[data-id="${older.conversationId}"] button`);
    await expect.poll(() => page.locator('#partial').textContent(), { timeout: 5_000 }).toBe('agent is writing: Answer to B');
    await page.close();
  }, 60_000);

  it('stops saying "agent is writing" a minute after the last partial reply when the reply never comes', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Ask' }), 201);
    const question = ok(await asA.post<{ messageId: string }>(`/conversations/${conversationId}/messages`, { text: 'question' }), 201);
    const page = await browser.newPage();
    await page.clock.install(); // the page's timers and clock, moved on by hand below
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await page.waitForSelector('#messages li:has-text("user: question")');
    const partial = (seq: number, text: string) => live.publish(a.tenantId, { kind: 'agent.partial', conversationId, inReplyTo: question.messageId, text, seq });
    await partial(1, 'The ans');
    await page.waitForSelector('#partial:has-text("agent is writing: The ans")');
    // a reply still streaming stays shown: each frame starts the minute again
    await page.clock.fastForward('00:50');
    await partial(2, 'The answer is');
    await page.waitForSelector('#partial:has-text("agent is writing: The answer is")');
    await page.clock.fastForward('00:50');
    await expect(page.locator('#partial').isVisible()).resolves.toBe(true);
    // the agent died: no reply, no failure, no more frames
    await page.clock.fastForward('00:11');
    await page.waitForSelector('#partial', { state: 'hidden', timeout: 5_000 });
    await page.close();
  }, 60_000);

  it('lists live messages after the history in the API\'s order, whatever the clocks of the instances that took them', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'Clocks' }), 201);
    // an API instance whose clock runs a minute ahead of the database's takes the first message
    const ahead = { ...h.platform.ports, clock: () => new Date(Date.now() + 60_000) };
    await postMessage(ahead, { tenantId: asTenantId(a.tenantId), actor: 'test', correlationId: randomUUID() }, conversationId, { text: 'first' });
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: first")');
    const second = ok(await asA.post<{ position: string }>(`/conversations/${conversationId}/messages`, { text: 'second' }), 201);
    await page.waitForSelector('#messages li:has-text("user: second")');
    // the live feed can run ahead of the read models: the history as of the second message's position
    const history = ok(await asA.get<{ items: { text: string }[] }>(`/conversations/${conversationId}/messages?minPosition=${second.position}`), 200).items.map((m) => `user: ${m.text}`);
    expect(history).toEqual(['user: first', 'user: second']);
    // the list as it settles (a redraw may be under way when "second" first shows)
    await expect.poll(() => page.locator('#messages li').allTextContents(), { timeout: 5_000 }).toEqual(history);
    await page.close();
  }, 60_000);

  it("places a bot user's late message where the API places it in the chat, from the history and live alike", async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const caller = { tenantId: asTenantId(a.tenantId), actor: 'telegram:test', correlationId: randomUUID() };
    const { conversationId } = await startConversation(h.platform.ports, caller, { title: 'Late' }, { channel: 'telegram', externalChatId: '515151' });
    // Telegram delivers the chat's updates out of order: the one ordered 15 after the one ordered 20
    const update = (text: string, order: number) =>
      postMessage(h.platform.ports, caller, conversationId, { text }, { channel: 'telegram', external: { messageId: `m${order}`, order } });
    for (const [text, order] of [['one', 10], ['three', 20], ['two', 15]] as const) await update(text, order);
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: two")');
    const history = async (at: string | null) =>
      ok(await asA.get<{ items: { text: string }[] }>(`/conversations/${conversationId}/messages?minPosition=${at ?? 0}`), 200).items.map((m) => `user: ${m.text}`);
    const shown = () => page.locator('#messages li').allTextContents();
    expect(await shown()).toEqual(await history(null));
    expect(await shown()).toEqual(['user: one', 'user: two', 'user: three']);
    // live: another late one, between "two" and "three"
    const late = await update('two and a half', 17);
    await page.waitForSelector('#messages li:has-text("user: two and a half")');
    const expected = await history(late.position);
    expect(expected).toEqual(['user: one', 'user: two', 'user: two and a half', 'user: three']);
    await expect.poll(shown, { timeout: 5_000 }).toEqual(expected);
    await page.close();
  }, 60_000);

  it('names a bot chat without a title by its channel and chat, in the list and the Messages header alike', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const caller = { tenantId: asTenantId(a.tenantId), actor: 'telegram:test', correlationId: randomUUID() };
    const { conversationId } = await startConversation(h.platform.ports, caller, { title: null }, { channel: 'telegram', externalChatId: '424242' });
    await postMessage(h.platform.ports, caller, conversationId, { text: 'hi bot' });
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: hi bot")');
    await expect(page.locator(`#conversations li[data-id="${conversationId}"]`).textContent()).resolves.toBe('telegram 424242 · open');
    await expect(page.locator('#conversation-title').textContent()).resolves.toBe('— telegram 424242');
    await page.close();
  }, 60_000);

  it('shows a knight\'s status and progress from events as the knights read model has them', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const asA = client(h.baseUrl, a.key);
    const page = await browser.newPage();
    // the pusher's frames pass through; the test adds the task's events (no worker runs tasks here)
    let toPage: { send(message: string): void } | undefined;
    await page.routeWebSocket('**/ws/tenant/**', (ws) => {
      ws.connectToServer();
      toPage = ws;
    });
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    const { knightId } = ok(await asA.post<{ knightId: string }>('/knights', { task: 'Build' }), 202);
    const requested = page.locator('#events li[data-type="KnightRequested"]');
    await requested.waitFor({ timeout: 5_000 });
    // far past the log's positions: whatever the harness's provisioning appends meanwhile counts as shown
    let at = BigInt((await requested.getAttribute('data-position'))!) + 1_000_000n;
    const knight = page.locator(`#knights li[data-id="${knightId}"]`);
    const event = async (type: string, data: Record<string, unknown>, shown: string) => {
      at += 1n;
      toPage!.send(JSON.stringify({ kind: 'event', position: String(at), type, streamId: `knight-${a.tenantId}.${knightId}`, revision: 1, data: { ...data, at: new Date().toISOString() } }));
      await expect.poll(() => knight.textContent(), { timeout: 5_000 }).toBe(shown);
    };
    await event('KnightTaskStarted', { taskId: 't1', description: 'first' }, 'Build · working 0%');
    await event('KnightTaskProgressed', { taskId: 't1', percent: 40, note: null }, 'Build · working 40%');
    await event('KnightTaskCompleted', { taskId: 't1', result: 'done', screenshotUrl: null }, 'Build · provisioned 100%');
    await expect(knight.getAttribute('data-status')).resolves.toBe('provisioned');
    await event('KnightTaskStarted', { taskId: 't2', description: 'second' }, 'Build · working 0%');
    await page.close();
  }, 60_000);

  it('adds one list item for one new message and replaces none of those already shown', async () => {
    const { a, asA, newer } = await tenantWithTwoConversations();
    const page = await signedIn(a.key);
    for (let i = 0; i < 3; i++) ok(await asA.post(`/conversations/${newer.conversationId}/messages`, { text: `more ${i}` }), 201);
    await page.waitForSelector('#messages li:has-text("user: more 2")');
    await page.waitForSelector('#conversations li:has-text("Older")');
    // every node added to or removed from the three lists (and their items) from here on
    // (a script of the page's own: this project's TypeScript has no DOM types)
    await page.evaluate(`
      window.changed = {};
      for (const id of ['messages', 'conversations', 'knights']) {
        const count = (window.changed[id] = { added: 0, removed: 0 });
        new MutationObserver((records) => {
          for (const r of records) {
            count.added += r.addedNodes.length;
            count.removed += r.removedNodes.length;
          }
        }).observe(document.getElementById(id), { childList: true, subtree: true });
      }
    `);
    const posted = ok(await asA.post<{ position: string }>(`/conversations/${newer.conversationId}/messages`, { text: 'one more' }), 201);
    await page.waitForSelector('#messages li:has-text("user: one more")');
    await page.waitForSelector(`#events li[data-position="${posted.position}"]`);
    const changed = await page.evaluate('new Promise((resolve) => setTimeout(() => resolve(window.changed), 0))');
    const shown = await page.locator('#messages li').count();
    process.stdout.write(`one new message among ${shown} shown: ${JSON.stringify(changed)}\n`);
    // one item added to the messages; the conversation already first and its title unchanged: nothing else
    expect(changed).toEqual({ messages: { added: 1, removed: 0 }, conversations: { added: 0, removed: 0 }, knights: { added: 0, removed: 0 } });
    await page.close();
  }, 60_000);

  it('lists a tenant\'s 150 conversations and knights, the first 100 at once and the rest on "Load more"', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const asA = client(h.baseUrl, a.key);
    const titles = Array.from({ length: 150 }, (_, i) => `chat ${String(i).padStart(3, '0')}`);
    for (const title of titles) ok(await asA.post('/conversations', { title }), 201);
    const page = await browser.newPage();
    // 150 knights would need 150 computers: the API's two pages of them, as it would answer
    const knight = (i: number) => ({ knightId: `k${i}`, task: `task ${String(i).padStart(3, '0')}`, status: 'terminated', progress: null });
    const cursors: (string | null)[] = [];
    await page.route('**/api/v1/knights?*', (route) => {
      const cursor = new URL(route.request().url()).searchParams.get('cursor');
      cursors.push(cursor);
      const items = cursor === null ? Array.from({ length: 100 }, (_, i) => knight(149 - i)) : Array.from({ length: 50 }, (_, i) => knight(49 - i));
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items, next: cursor === null ? 'second-page' : null }) });
    });
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await expect.poll(() => page.locator('#conversations li').count(), { timeout: 10_000 }).toBe(100);
    await expect(page.locator('#knights li').count()).resolves.toBe(100);
    await page.getByRole('button', { name: 'Load more conversations' }).click();
    await expect.poll(() => page.locator('#conversations li').count(), { timeout: 10_000 }).toBe(150);
    const listed = (await page.locator('#conversations li').allTextContents()).map((t) => t.replace(/ · open$/, ''));
    expect(listed.sort()).toEqual(titles);
    await expect(page.getByRole('button', { name: 'Load more conversations' }).isHidden()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Load more knights' }).click();
    await expect.poll(() => page.locator('#knights li').count(), { timeout: 10_000 }).toBe(150);
    expect(cursors).toEqual([null, 'second-page']);
    await expect(page.getByRole('button', { name: 'Load more knights' }).isHidden()).resolves.toBe(true);
    // a conversation that starts now comes live, on top of the 150
    ok(await asA.post('/conversations', { title: 'brand new' }), 201);
    await page.waitForSelector('#conversations li:first-child:has-text("brand new")', { timeout: 5_000 });
    await expect(page.locator('#conversations li').count()).resolves.toBe(151);
    await page.close();
  }, 180_000);

  it('shows the title of a conversation older than the first page when a message comes in for it; a failed lookup says so, and Retry gets it', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey), 'pro');
    const asA = client(h.baseUrl, a.key);
    const oldest = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'The oldest one' }), 201);
    for (let i = 0; i < 100; i++) ok(await asA.post('/conversations', { title: `newer ${i}` }), 201);
    const page = await signedIn(a.key);
    await page.waitForSelector('#conversations li:has-text("newer 99")');
    // the first lookup of its title fails
    let lookups = 0;
    await page.route(`**/api/v1/conversations/${oldest.conversationId}?*`, (route) =>
      lookups++ === 0
        ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service Unavailable', detail: 'the database is unavailable' }) })
        : route.continue(),
    );
    ok(await asA.post(`/conversations/${oldest.conversationId}/messages`, { text: 'back again' }), 201);
    const alert = page.getByRole('alert').filter({ hasText: 'could not load the title of a conversation: the database is unavailable' });
    await alert.waitFor({ timeout: 5_000 });
    await page.waitForSelector(`#conversations li[data-id="${oldest.conversationId}"]`); // listed meanwhile, by its id
    await page.locator('#conversations-error').getByRole('button', { name: 'Retry' }).click();
    await page.waitForSelector(`#conversations li[data-id="${oldest.conversationId}"]:has-text("The oldest one")`, { timeout: 5_000 });
    await expect(alert.isHidden()).resolves.toBe(true);
    expect(lookups).toBe(2);
    await page.close();
  }, 120_000);

  it('stays signed out when the user signs out while a reconnect is exchanging the key', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const page = await signedIn(a.key);
    // the next socket is refused 4401, and the exchange that follows hangs until the user has signed out
    await page.routeWebSocket('**/ws/tenant/**', (ws) => ws.close({ code: 4401, reason: 'invalid_token: the token has expired' }));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let exchanging = false;
    await page.route('**/api/v1/auth/token', async (route) => {
      exchanging = true;
      await released;
      await route.abort('connectionfailed');
    });
    await pusher.close();
    pusher = await pusherOn(h, {}, live);
    await expect.poll(() => exchanging, { timeout: 10_000 }).toBe(true);
    await page.click('#sign-out');
    release();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await expect(page.locator('#connection').getAttribute('data-state')).resolves.toBe('signed-out');
    await expect(page.locator('#sign-in').isVisible()).resolves.toBe(true);
    await page.close();
  }, 60_000);

  it('starts afresh, and says so, when the pusher refuses its position as past the end of the log (4400 after_beyond_log)', async () => {
    const { a, asA, newer } = await tenantWithTwoConversations();
    const page = await signedIn(a.key);
    await page.waitForSelector('#messages li:has-text("user: latest")');
    const before = ok(await asA.post<{ position: string }>(`/conversations/${newer.conversationId}/messages`, { text: 'before the restore' }), 201);
    await page.waitForSelector(`#events li[data-position="${before.position}"]`);
    // the database was restored while the page was open: the pusher refuses any ?after=
    const urls: string[] = [];
    await page.routeWebSocket('**/ws/tenant/**', (ws) => {
      urls.push(ws.url());
      if (new URL(ws.url()).searchParams.has('after'))
        ws.close({ code: 4400, reason: 'after_beyond_log: after is past the end of the log; reconnect without it (or with a position you received)' });
      else ws.connectToServer();
    });
    await pusher.close();
    pusher = await pusherOn(h, {}, live);
    await page.waitForSelector('#events li[data-type="note"]:has-text("started afresh")', { timeout: 10_000 });
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    expect(urls.map((u) => new URL(u).searchParams.has('after'))).toEqual([true, false]);
    await expect(page.locator('#events li[data-position]').count()).resolves.toBe(0); // the old history's events are gone
    await page.waitForSelector('#messages li:has-text("user: before the restore")'); // shown again from the read models
    const after = ok(await asA.post<{ position: string }>(`/conversations/${newer.conversationId}/messages`, { text: 'after the restore' }), 201);
    await page.waitForSelector(`#events li[data-position="${after.position}"]`, { timeout: 5_000 });
    await page.waitForSelector('#messages li:has-text("user: after the restore")');
    await page.close();
  }, 60_000);

  it('opens one socket when Sign in is pressed twice on a slow API, and none stays open after signing out', async () => {
    const a = await newTenant(client(h.baseUrl, h.operatorKey));
    const page = await browser.newPage();
    const sockets: WebSocket[] = [];
    page.on('websocket', (ws) => void sockets.push(ws));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let exchanges = 0;
    await page.route('**/api/v1/auth/token', async (route) => {
      if (exchanges++ === 0) await released; // the first exchange is slow
      await route.continue();
    });
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', a.key);
    await page.keyboard.press('Enter');
    await expect.poll(() => exchanges, { timeout: 10_000 }).toBe(1);
    await expect(page.locator('#sign-in button[type=submit]').isDisabled()).resolves.toBe(true);
    await page.keyboard.press('Enter');
    await page.locator('#sign-in button[type=submit]').dispatchEvent('click'); // a click on the disabled button, too
    release();
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(exchanges).toBe(1);
    expect(sockets).toHaveLength(1);
    await page.click('#sign-out');
    await expect.poll(() => sockets.every((ws) => ws.isClosed()), { timeout: 5_000 }).toBe(true);
    await page.close();
  }, 60_000);

  it('says why a key is refused, and the key never reaches the URL or storage', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.baseUrl}/`);
    await page.fill('#key', 'ocs_aaaaaaaaaaaa_bogusbogusbogusbogusbogusbogusbogusbogusbogu');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#sign-in-error:has-text("could not sign in")');
    expect(page.url()).toBe(`${h.baseUrl}/`);
    expect(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie')).toBe('{}{}');
    await page.close();
  }, 60_000);
  describe('with 60-second tokens and one failed authentication per minute allowed', () => {
    let short: ApiHarness;
    let shortPusher: Pusher;
    beforeAll(async () => {
      short = await startApiHarness({ JWT_TTL_SECONDS: '60', AUTH_FAILURES_PER_MINUTE: '1' });
      shortPusher = await pusherOn(short);
    }, 120_000);
    afterAll(async () => {
      await shortPusher?.close();
      await short?.close();
    });

    it('reconnects after its token expired without spending a failed authentication', async () => {
      const a = await newTenant(client(short.baseUrl, short.operatorKey));
      const page = await browser.newPage();
      await page.goto(`${short.baseUrl}/`);
      await page.fill('#key', a.key);
      await page.click('#sign-in button[type=submit]');
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 66_000)); // past the token's expiry and the 5 s clock tolerance
      await shortPusher.close();
      shortPusher = await pusherOn(short);
      const asA = client(short.baseUrl, a.key);
      const { conversationId } = ok(await asA.post<{ conversationId: string }>('/conversations', { title: 'After the restart' }), 201);
      await page.waitForSelector('#conversations li:has-text("After the restart")', { timeout: 20_000 });
      await page.waitForSelector('#connection[data-state="live"]');
      ok(await asA.post(`/conversations/${conversationId}/messages`, { text: 'still here' }), 201);
      await page.waitForSelector('#messages li:has-text("user: still here")', { timeout: 5_000 });
      await page.close();
    }, 150_000);
  });
});
