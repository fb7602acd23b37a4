import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../adapters/channels/secrets.ts';
import { createTelegramBots } from '../../adapters/telegram/bots.ts';
import { parseTelegramUpdate, TELEGRAM_SECRET_HEADER, telegramSecretMatches } from '../../adapters/telegram/webhook.ts';
import type { TelegramUpdate } from '../../adapters/telegram/webhook.ts';
import { parseWhatsAppWebhook } from '../../adapters/whatsapp/payload.ts';
import type { WhatsAppWebhook } from '../../adapters/whatsapp/payload.ts';
import { answerVerification, WHATSAPP_SIGNATURE_HEADER, whatsappSignatureMatches } from '../../adapters/whatsapp/webhook.ts';
import { deliverTelegramUpdate, startTelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import type { TelegramDouble } from '../../adapters/channels/doubles/telegram-bot-api.ts';
import { telegramUpdates } from '../../adapters/channels/doubles/telegram-updates.ts';
import { deliverWhatsApp, verifyWhatsAppWebhook, whatsappPayloads } from '../doubles/whatsapp-payloads.ts';

/**
 * The doubles deliver to a webhook the way the platforms do, and the adapter's checks accept exactly
 * that: a bare express app here stands in for the product's webhook routes (issue 10 adds those),
 * using only the pure verification and parsing functions.
 */
describe('webhook deliveries from the doubles, checked by the adapter functions over real HTTP', () => {
  const stored = { telegramSecretHash: '', appSecret: 'whatsapp-app-secret-0123456789', verifyTokenHash: hashSecret('verify-token-of-acme') };
  const telegramSeen: TelegramUpdate[] = [];
  const whatsappSeen: WhatsAppWebhook[] = [];
  let server: Server;
  let base: string;
  let telegram: TelegramDouble;

  beforeAll(async () => {
    const app = express();
    app.post('/webhooks/telegram/acme', express.json(), (req, res) => {
      if (!telegramSecretMatches(req.headers[TELEGRAM_SECRET_HEADER], stored.telegramSecretHash)) return void res.status(403).end();
      telegramSeen.push(parseTelegramUpdate(req.body));
      res.status(200).end();
    });
    app.get('/webhooks/whatsapp/acme', (req, res) => {
      const answer = answerVerification(req.query as Record<string, unknown>, stored.verifyTokenHash);
      if (answer.status === 200) res.type('text/plain').send(answer.challenge);
      else res.status(403).end();
    });
    app.post('/webhooks/whatsapp/acme', express.raw({ type: 'application/json' }), (req, res) => {
      if (!whatsappSignatureMatches(req.body as Buffer, req.headers[WHATSAPP_SIGNATURE_HEADER], stored.appSecret)) return void res.status(401).end();
      whatsappSeen.push(parseWhatsAppWebhook(JSON.parse((req.body as Buffer).toString('utf8'))));
      res.status(200).end();
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    telegram = await startTelegramDouble();
  });
  afterAll(async () => {
    await telegram.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('Telegram: the secret set through the real client comes back in the header of each delivered update', async () => {
    const bot = telegram.addBot();
    const bots = createTelegramBots({ apiRoot: telegram.apiRoot });
    const { secretToken } = await bots.setWebhook({ tenantId: 'acme', token: bot.token }, { url: `${base}/webhooks/telegram/acme` });
    stored.telegramSecretHash = hashSecret(secretToken);
    const updates = telegramUpdates({ firstUpdateId: 900 });

    expect((await telegram.deliver(bot.token, updates.text({ chatId: 31, text: 'hello' }))).status).toBe(200);
    expect((await telegram.deliver(bot.token, updates.sticker({ chatId: 31 }))).status).toBe(200);
    expect((await telegram.userSays(bot.token, { chatId: 32, text: 'a user typing' })).status).toBe(200);
    expect(telegramSeen.map((u) => u.type)).toEqual(['text', 'without_text', 'text']);
    expect(telegramSeen[0]).toMatchObject({ updateId: 900, chatId: '31', text: 'hello' });
    expect(telegramSeen[2]).toMatchObject({ chatId: '32', text: 'a user typing', from: { id: '32' } });
  });

  it('Telegram: a forged or missing secret is refused', async () => {
    const before = telegramSeen.length;
    const update = telegramUpdates().text({ chatId: 31, text: 'forged' });
    expect((await deliverTelegramUpdate(`${base}/webhooks/telegram/acme`, update, 'not-the-secret')).status).toBe(403);
    expect((await deliverTelegramUpdate(`${base}/webhooks/telegram/acme`, update, null)).status).toBe(403);
    expect(telegramSeen.length).toBe(before);
  });

  it('Telegram: an update the webhook refuses stays pending with its error, as getWebhookInfo shows', async () => {
    const bot = telegram.addBot();
    const bots = createTelegramBots({ apiRoot: telegram.apiRoot });
    const credentials = { tenantId: 'other', token: bot.token };
    await bots.setWebhook(credentials, { url: `${base}/webhooks/telegram/acme` }); // its secret is not the one stored for acme
    expect((await telegram.deliver(bot.token, telegramUpdates().text({ chatId: 5, text: 'x' }))).status).toBe(403);
    expect(await bots.getWebhookInfo(credentials)).toMatchObject({ pendingUpdateCount: 1, lastErrorMessage: 'Wrong response from the webhook: 403' });
  });

  it('WhatsApp: the handshake answers the challenge as plain text only for the right verify token', async () => {
    const ok = await verifyWhatsAppWebhook(`${base}/webhooks/whatsapp/acme`, { mode: 'subscribe', verifyToken: 'verify-token-of-acme', challenge: '987654321' });
    expect(ok).toMatchObject({ status: 200, body: '987654321' });
    expect(ok.contentType).toMatch(/^text\/plain/);
    const wrong = await verifyWhatsAppWebhook(`${base}/webhooks/whatsapp/acme`, { mode: 'subscribe', verifyToken: 'guess', challenge: '987654321' });
    expect(wrong.status).toBe(403);
  });

  it('WhatsApp: a signed payload is accepted and parsed; a body changed by one byte is 401', async () => {
    const number = { phoneNumberId: '106540352242922', displayPhoneNumber: '+1 555 010 0001' };
    const payload = whatsappPayloads.text(number, { from: '491701234567', id: 'wamid.IN9', text: 'Grüße 👋' });
    expect((await deliverWhatsApp(`${base}/webhooks/whatsapp/acme`, payload, stored.appSecret)).status).toBe(200);
    const tampered = await deliverWhatsApp(`${base}/webhooks/whatsapp/acme`, payload, stored.appSecret, { tamper: (raw) => raw.replace('Grüße', 'Grüsse') });
    expect(tampered.status).toBe(401);
    const unsigned = await deliverWhatsApp(`${base}/webhooks/whatsapp/acme`, payload, stored.appSecret, { signature: null });
    expect(unsigned.status).toBe(401);
    expect(whatsappSeen).toHaveLength(1);
    expect(whatsappSeen[0]).toMatchObject({ type: 'events', messages: [{ id: 'wamid.IN9', text: 'Grüße 👋' }] });
  });
});
