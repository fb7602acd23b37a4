import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../adapters/channels/secrets.ts';
import { parseWhatsAppWebhook } from '../../adapters/whatsapp/payload.ts';
import { answerVerification, whatsappSignatureMatches } from '../../adapters/whatsapp/webhook.ts';
import { signatureOf, whatsappPayloads } from '../doubles/whatsapp-payloads.ts';

const NUMBER = { phoneNumberId: '106540352242922', displayPhoneNumber: '+1 555 010 0001' };
const APP_SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('WhatsApp webhook: X-Hub-Signature-256 over the raw body', () => {
  const raw = Buffer.from(JSON.stringify(whatsappPayloads.text(NUMBER, { from: '491701234567', text: 'Grüße aus Köln 👋' })));

  it('accepts the signature Meta computes over the exact bytes', () => {
    expect(whatsappSignatureMatches(raw, signatureOf(raw, APP_SECRET), APP_SECRET)).toBe(true);
  });

  it('refuses a body changed by one byte', () => {
    const signature = signatureOf(raw, APP_SECRET);
    for (const at of [0, Math.floor(raw.length / 2), raw.length - 1]) {
      const changed = Buffer.from(raw);
      changed[at] = changed[at]! ^ 0x01;
      expect(whatsappSignatureMatches(changed, signature, APP_SECRET)).toBe(false);
    }
  });

  it('refuses another app secret, a missing, malformed or repeated header', () => {
    const good = signatureOf(raw, APP_SECRET);
    for (const header of [signatureOf(raw, 'another secret'), undefined, '', good.slice(7), `sha1=${good.slice(7)}`, `${good}00`, [good, good]])
      expect(whatsappSignatureMatches(raw, header, APP_SECRET)).toBe(false);
  });

  it('must be checked over the bytes received: re-serialised JSON of escaped non-ASCII no longer matches', () => {
    const escaped = Buffer.from(JSON.stringify(whatsappPayloads.text(NUMBER, { from: '491701234567', text: 'Grüße' })).replace('ü', '\\u00fc'));
    const signature = signatureOf(escaped, APP_SECRET);
    expect(whatsappSignatureMatches(escaped, signature, APP_SECRET)).toBe(true);
    expect(whatsappSignatureMatches(Buffer.from(JSON.stringify(JSON.parse(escaped.toString()))), signature, APP_SECRET)).toBe(false);
  });
});

describe('WhatsApp webhook: GET verification handshake', () => {
  const verifyTokenHash = hashSecret('verify-me-please');

  it('answers the challenge when the mode is subscribe and the verify token matches', () => {
    expect(answerVerification({ 'hub.mode': 'subscribe', 'hub.verify_token': 'verify-me-please', 'hub.challenge': '1158201444' }, verifyTokenHash)).toEqual({
      status: 200,
      challenge: '1158201444',
    });
  });

  it('is 403 for a wrong token, another mode, or a missing or odd challenge', () => {
    for (const query of [
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'guess', 'hub.challenge': '1' },
      { 'hub.mode': 'unsubscribe', 'hub.verify_token': 'verify-me-please', 'hub.challenge': '1' },
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'verify-me-please' },
      { 'hub.mode': 'subscribe', 'hub.verify_token': 'verify-me-please', 'hub.challenge': '<script>x</script> ' },
      { 'hub.mode': 'subscribe', 'hub.verify_token': ['verify-me-please'], 'hub.challenge': '1' },
      {},
    ])
      expect(answerVerification(query, verifyTokenHash)).toEqual({ status: 403 });
  });
});

describe('WhatsApp webhook: parsing a payload', () => {
  const from = '491701234567';

  it('an inbound text becomes its wamid, sender, timestamp, profile name and text', () => {
    const payload = whatsappPayloads.text(NUMBER, { from, name: 'Grace', id: 'wamid.ABC', timestamp: 1_767_225_600, text: 'Hi there', replyTo: 'wamid.OUT1' });
    expect(parseWhatsAppWebhook(payload)).toEqual({
      type: 'events',
      messages: [
        {
          type: 'text',
          phoneNumberId: NUMBER.phoneNumberId,
          id: 'wamid.ABC',
          from,
          timestamp: 1_767_225_600,
          profileName: 'Grace',
          replyTo: 'wamid.OUT1',
          text: 'Hi there',
        },
      ],
      statuses: [],
      errors: [],
      skipped: 0,
    });
  });

  it('media and reactions are kinds without text', () => {
    const body = whatsappPayloads.batch(
      whatsappPayloads.image(NUMBER, { from, caption: 'look' }),
      whatsappPayloads.sticker(NUMBER, { from }),
      whatsappPayloads.audio(NUMBER, { from }),
      whatsappPayloads.reaction(NUMBER, { from, to: 'wamid.OUT1', emoji: '👍' }),
    );
    const parsed = parseWhatsAppWebhook(body);
    expect(parsed.type === 'events' && parsed.messages.map((m) => (m.type === 'without_text' ? m.kind : m.text))).toEqual(['image', 'sticker', 'audio', 'reaction']);
  });

  it('statuses sent, delivered, read and failed (with its errors) come out in order', () => {
    const body = whatsappPayloads.batch(
      ...(['sent', 'delivered', 'read'] as const).map((status, i) =>
        whatsappPayloads.status(NUMBER, { id: 'wamid.OUT1', status, recipientId: from, timestamp: 1_767_225_600 + i }),
      ),
      whatsappPayloads.status(NUMBER, {
        id: 'wamid.OUT2',
        status: 'failed',
        recipientId: from,
        timestamp: 1_767_225_700,
        errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'more than 24 hours' } }],
      }),
    );
    const parsed = parseWhatsAppWebhook(body);
    expect(parsed.type === 'events' && parsed.statuses).toEqual([
      { phoneNumberId: NUMBER.phoneNumberId, messageId: 'wamid.OUT1', status: 'sent', timestamp: 1_767_225_600, recipientId: from, errors: [] },
      { phoneNumberId: NUMBER.phoneNumberId, messageId: 'wamid.OUT1', status: 'delivered', timestamp: 1_767_225_601, recipientId: from, errors: [] },
      { phoneNumberId: NUMBER.phoneNumberId, messageId: 'wamid.OUT1', status: 'read', timestamp: 1_767_225_602, recipientId: from, errors: [] },
      {
        phoneNumberId: NUMBER.phoneNumberId,
        messageId: 'wamid.OUT2',
        status: 'failed',
        timestamp: 1_767_225_700,
        recipientId: from,
        errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', details: 'more than 24 hours' }],
      },
    ]);
  });

  it('skips items it cannot use and keeps the rest', () => {
    const body = whatsappPayloads.text(NUMBER, { from, text: 'kept' });
    const value = body.entry[0]!.changes[0]!.value as Record<string, unknown>;
    value.messages = [...(value.messages as unknown[]), { id: 'has spaces', from, timestamp: '1', type: 'text', text: { body: 'x' } }, { from: 'abc' }];
    value.statuses = [{ id: 'wamid.X', status: 'deleted', timestamp: '1', recipient_id: from }];
    const parsed = parseWhatsAppWebhook(body);
    expect(parsed).toMatchObject({ type: 'events', skipped: 3 });
    expect(parsed.type === 'events' && parsed.messages.map((m) => m.type === 'text' && m.text)).toEqual(['kept']);
  });

  it('a body that is not a WhatsApp webhook is ignored', () => {
    for (const body of [null, 'x', [], { object: 'page', entry: [] }, { object: 'whatsapp_business_account' }])
      expect(parseWhatsAppWebhook(body)).toEqual({ type: 'ignored', reason: 'not_a_whatsapp_webhook' });
  });

  it('property: any JSON body parses to a result, never a throw', () => {
    const change = fc.record({ field: fc.constantFrom('messages', 'account_update'), value: fc.jsonValue() });
    const envelope = fc.record({ object: fc.constant('whatsapp_business_account'), entry: fc.array(fc.record({ id: fc.string(), changes: fc.array(change) })) });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), envelope), (body) => {
        expect(['events', 'ignored']).toContain(parseWhatsAppWebhook(body).type);
      }),
      { numRuns: 300 },
    );
  });
});
