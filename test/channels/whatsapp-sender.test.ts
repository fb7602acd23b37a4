import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSendJournal } from '../../adapters/channels/send-journal.ts';
import { createWhatsAppSender } from '../../adapters/whatsapp/sender.ts';
import type { WhatsAppSender } from '../../adapters/whatsapp/sender.ts';
import { customerServiceWindow } from '../../adapters/whatsapp/window.ts';
import { startLoopback } from '../../adapters/channels/doubles/loopback.ts';
import { graphErrors, startWhatsAppDouble } from '../doubles/whatsapp-graph.ts';
import type { FakeNumber, WhatsAppDouble } from '../doubles/whatsapp-graph.ts';
import { fakeClock } from '../support/fake-clock.ts';
import { expectNoSecretIn, failureOf } from './secrets-in-errors.ts';

const HOUR = 3_600_000;
const USER = '491701234567';

describe('WhatsApp sender against the Graph double', () => {
  let double: WhatsAppDouble;
  let number: FakeNumber;
  let time: ReturnType<typeof fakeClock>;
  let sender: WhatsAppSender;
  const creds = () => ({ phoneNumberId: number.phoneNumberId, accessToken: number.accessToken });
  const wroteHoursAgo = (hours: number) => new Date(time.now - hours * HOUR);

  beforeAll(async () => {
    double = await startWhatsAppDouble();
  });
  afterAll(() => double.close());
  beforeEach(() => {
    number = double.addNumber();
    time = fakeClock();
    sender = createWhatsAppSender({ graphUrl: double.graphUrl, apiVersion: 'v21.0', timeoutMs: 2_000, clock: time.clock });
  });

  it('describes a connected number, validating its access token', async () => {
    expect(await sender.describeNumber(creds())).toEqual({
      phoneNumberId: number.phoneNumberId,
      displayPhoneNumber: number.displayPhoneNumber,
      verifiedName: number.verifiedName,
    });
    const wrong = await failureOf(sender.describeNumber({ ...creds(), accessToken: 'EAAGwrongwrongwrong' }));
    expect(wrong).toMatchObject({ code: 'whatsapp_token_rejected', kind: 'validation', details: { retryable: false, platformCode: 190 } });
    const unknown = await failureOf(sender.describeNumber({ ...creds(), phoneNumberId: '999' }));
    expect(unknown).toMatchObject({ code: 'whatsapp_request_rejected', details: { retryable: false, platformCode: 100 } });
  });

  it('sends the documented text body with the bearer token, quoting the user message, and returns the wamid', async () => {
    const sent = await sender.sendText(creds(), USER, 'Hello from the agent', { lastInboundAt: wroteHoursAgo(1), replyToMessageId: 'wamid.IN1' });
    const call = double.calls.at(-1)!;
    expect(call.path).toBe(`/v21.0/${number.phoneNumberId}/messages`);
    expect(call.authorization).toBe(`Bearer ${number.accessToken}`);
    expect(call.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: USER,
      type: 'text',
      text: { preview_url: false, body: 'Hello from the agent' },
      context: { message_id: 'wamid.IN1' },
    });
    expect(sent.externalMessageIds).toEqual([double.sent(number.phoneNumberId)[0]!.wamid]);
  });

  it('goes through the given HTTP agents, so the bots worker journals a send whose request left', async () => {
    const journal = openSendJournal(path.join(mkdtempSync(path.join(tmpdir(), 'wa-journal-')), 'bots-send.journal'));
    if ('unavailable' in journal) throw new Error(journal.unavailable);
    const journaled = createWhatsAppSender({ graphUrl: double.graphUrl, apiVersion: 'v21.0', timeoutMs: 2_000, clock: time.clock, agents: journal.agents });
    await journal.around('message-1', 0, () => journaled.sendText(creds(), USER, 'journaled', { lastInboundAt: wroteHoursAgo(1) }));
    expect(double.sent(number.phoneNumberId).map((m) => m.text)).toContain('journaled');
    expect([journal.left('message-1', 0), journal.left('message-1', 1)]).toEqual([true, false]);
    journal.close();
  });

  describe('the 24-hour customer-service window', () => {
    it('refuses a free-form reply 24 hours or more after the user last wrote, before any request', async () => {
      const before = double.calls.length;
      const late = await failureOf(sender.sendText(creds(), USER, 'too late', { lastInboundAt: wroteHoursAgo(24) }));
      expect(late).toMatchObject({ code: 'whatsapp_outside_window', details: { retryable: false } });
      expect(late.message).toMatch(/window closed at/);
      const never = await failureOf(sender.sendText(creds(), USER, 'who?', { lastInboundAt: null }));
      expect(never).toMatchObject({ code: 'whatsapp_outside_window', details: { retryable: false } });
      expect(double.calls.length).toBe(before);
    });

    it('says open until just before 24 hours and when it closes', () => {
      const wrote = new Date('2026-01-01T10:00:00Z');
      expect(customerServiceWindow(wrote, new Date('2026-01-02T09:59:59.999Z'))).toEqual({ open: true, closesAt: new Date('2026-01-02T10:00:00Z') });
      expect(customerServiceWindow(wrote, new Date('2026-01-02T10:00:00Z'))).toEqual({
        open: false,
        reason: 'window_closed',
        closedAt: new Date('2026-01-02T10:00:00Z'),
      });
      expect(customerServiceWindow(new Date('2026-01-01T10:05:00Z'), wrote).open).toBe(true); // stamped ahead of our clock
    });

    it("Graph's own 131047 is the same permanent failure", async () => {
      double.failNext(graphErrors.outsideWindow);
      const error = await failureOf(sender.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(23) }));
      expect(error).toMatchObject({ code: 'whatsapp_outside_window', details: { retryable: false, platformCode: 131047 } });
    });

    it('a double that enforces the window accepts the reply inside it and refuses it outside', async () => {
      const strict = await startWhatsAppDouble({ enforceWindow: true, now: () => time.now });
      try {
        const n = strict.addNumber();
        const s = createWhatsAppSender({ graphUrl: strict.graphUrl, apiVersion: 'v21.0', clock: time.clock });
        strict.userWrote(n.phoneNumberId, USER, time.now - 2 * HOUR);
        await s.sendText({ phoneNumberId: n.phoneNumberId, accessToken: n.accessToken }, USER, 'in time', { lastInboundAt: wroteHoursAgo(2) });
        const stale = await failureOf(
          s.sendText({ phoneNumberId: n.phoneNumberId, accessToken: n.accessToken }, '15550001111', 'never wrote', { lastInboundAt: wroteHoursAgo(1) }),
        );
        expect(stale.code).toBe('whatsapp_outside_window');
        expect(strict.sent().map((m) => m.text)).toEqual(['in time']);
      } finally {
        await strict.close();
      }
    });
  });

  describe('rate limits and failures', () => {
    it('after 130429 (throughput), waits and sends once', async () => {
      double.failNext(graphErrors.throughput);
      await sender.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) });
      expect(time.sleeps).toEqual([1000]);
      expect(double.sent(number.phoneNumberId)).toHaveLength(1);
    });

    it('after 131056 (pair rate limit), waits the per-user interval and sends once', async () => {
      double.failNext(graphErrors.pairRateLimit);
      await sender.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) });
      expect(time.sleeps).toEqual([6000]);
      expect(double.sent(number.phoneNumberId)).toHaveLength(1);
    });

    it('paces messages to one user 6 s apart, and splits a long text', async () => {
      const [a, b] = ['a '.repeat(1800).trim(), 'b '.repeat(1800).trim()];
      const text = `${a}\n\n${b}`;
      const sent = await sender.sendText(creds(), USER, text, { lastInboundAt: wroteHoursAgo(1), replyToMessageId: 'wamid.Q' });
      const got = double.sent(number.phoneNumberId);
      expect(got.map((m) => m.text)).toEqual([a, b]);
      expect(got.map((m) => m.replyTo)).toEqual(['wamid.Q', null]);
      expect(sent.externalMessageIds).toEqual(got.map((m) => m.wamid));
      expect(time.sleeps).toEqual([6000]);
    });

    it('a 5xx is retryable and not retried inside the call', async () => {
      double.failNext({ type: 'server_error', status: 503 });
      const error = await failureOf(sender.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) }));
      expect(error).toMatchObject({ code: 'whatsapp_unavailable', kind: 'unavailable', details: { retryable: true } });
      expect(double.sent(number.phoneNumberId)).toHaveLength(0);
    });

    it('no answer in time is retryable and flagged as maybe delivered', async () => {
      const impatient = createWhatsAppSender({ graphUrl: double.graphUrl, apiVersion: 'v21.0', timeoutMs: 200, clock: time.clock });
      double.failNext({ type: 'timeout', afterProcessing: true });
      const error = await failureOf(impatient.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) }));
      expect(error).toMatchObject({ code: 'whatsapp_timeout', details: { retryable: true, maybeDelivered: true } });
      expect(double.sent(number.phoneNumberId)).toHaveLength(1);
      expectNoSecretIn(error, [number.accessToken]);
    });

    it('a revoked access token is permanent and the error does not show it', async () => {
      const old = number.accessToken;
      double.rotateToken(number.phoneNumberId);
      const error = await failureOf(sender.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) }));
      expect(error).toMatchObject({ code: 'whatsapp_token_rejected', details: { retryable: false } });
      expectNoSecretIn(error, [old]);
    });

    it('an unreachable Graph is retryable, nothing was sent, and the token stays hidden', async () => {
      const gone = await startLoopback(() => undefined);
      await gone.close();
      const offline = createWhatsAppSender({ graphUrl: gone.url, apiVersion: 'v21.0', clock: time.clock });
      const error = await failureOf(offline.sendText(creds(), USER, 'hi', { lastInboundAt: wroteHoursAgo(1) }));
      expect(error).toMatchObject({ code: 'whatsapp_unavailable', details: { retryable: true } });
      expect(error.details.maybeDelivered).toBeUndefined();
      expectNoSecretIn(error, [number.accessToken]);
    });

    it('ids that would change the URL or the recipient are refused before any request', async () => {
      const before = double.calls.length;
      expect((await failureOf(sender.sendText({ ...creds(), phoneNumberId: '1/../2' }, USER, 'x', { lastInboundAt: wroteHoursAgo(1) }))).code).toBe(
        'whatsapp_phone_number_id_malformed',
      );
      expect((await failureOf(sender.sendText(creds(), '+49 170', 'x', { lastInboundAt: wroteHoursAgo(1) }))).code).toBe('whatsapp_recipient_malformed');
      expect(double.calls.length).toBe(before);
    });
  });
});
