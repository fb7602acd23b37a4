import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldAad } from '../../adapters/codec/index.ts';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import { billingDecider } from '../../domain/billing/index.ts';
import type { EventsByCategory } from '../../domain/events.ts';
import { fold } from '../../domain/shared/decider.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { ERASED_MARKER, SECRET_MARKER } from '../../domain/ports/keys.ts';
import type { KeyService } from '../../domain/ports/keys.ts';
import { asConversationId, asTenantId } from '../../domain/shared/ids.ts';
import type { Category } from '../../domain/shared/streams.ts';
import { openTestCodec } from '../support/codec.ts';
import { meta, uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

const at = '2026-11-30T12:00:00.000Z';

describe('event codec: typed, versioned, encrypted per tenant', () => {
  const schema = uniqueSchema('codec');
  let store: EventStore;
  let codec: EventCodec;
  let keys: KeyService;
  let close: () => Promise<void>;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
    ({ codec, keys, close } = await openTestCodec(schema));
  });
  afterAll(async () => {
    await store.close();
    await close();
    await dropSchema(schema);
  });

  const write = async <K extends Category>(category: K, stream: string, events: EventsByCategory[K][]) => {
    const { tenantId } = { tenantId: stream.slice(stream.indexOf('-') + 1).split('.')[0]! };
    await store.append(stream, await codec.encode(category, stream, events.map((event) => ({ id: randomUUID(), event })), meta(tenantId)), 'any');
    return store.readStream(stream);
  };
  const created = (t: string) => ({ type: 'TenantCreated', data: { tenantId: asTenantId(t), name: 'Acme Corp', email: 'ceo@acme.example', tier: 'pro', at } }) as const;
  const bot = { type: 'TelegramBotConnected', data: { botUsername: 'acme_bot', botId: 42, token: '42:SECRET-TOKEN-abcdefghijklmnopqrstuv', webhookSecretHash: 'h'.repeat(64), at } } as const;

  it('given a v1 TenantCreated stored before email existed, when it is read, then it comes back as the current version', async () => {
    const t = uniqueTenant();
    await store.append(`tenant-${t}`, [{ id: randomUUID(), type: 'TenantCreated', data: { tenantId: t, name: 'Old Corp', tier: 'free', at }, metadata: meta(t) }], 'no_stream');
    const [event] = await codec.decodeStream('tenant', await store.readStream(`tenant-${t}`), 'open');
    expect(event).toMatchObject({ type: 'TenantCreated', data: { tenantId: t, name: 'Old Corp', email: null, tier: 'free', at }, revision: 0 });
  });

  it('given a v1 InvoicePaid stored before payments were tracked per invoice, when it is read, then it left the standing good (as decided then)', async () => {
    const t = uniqueTenant();
    const failed = { stripeEventId: 'evt_1', created: 1_780_000_000, invoiceId: 'in_A', graceEndsAt: at, at };
    await store.append(`billing-${t}`, [
      { id: randomUUID(), type: 'StripeCustomerCreated', data: { customerId: 'cus_1', at }, metadata: meta(t) },
      { id: randomUUID(), type: 'InvoicePaymentFailed', data: failed, metadata: meta(t) },
      { id: randomUUID(), type: 'InvoicePaid', data: { stripeEventId: 'evt_2', created: 1_780_000_001, invoiceId: 'in_B', at }, metadata: meta(t) },
    ], 'no_stream');
    const events = await codec.decodeStream('billing', await store.readStream(`billing-${t}`), 'stored');
    expect(events[2]).toMatchObject({ type: 'InvoicePaid', data: { invoiceId: 'in_B', standing: 'good' } });
    expect(fold(billingDecider, events)).toMatchObject({ payment: { standing: 'good' } });
    expect(codec.storedTypes('InvoicePaid')).toEqual(['InvoicePaid', 'InvoicePaid.v2']);
  });

  it('given v1 failures and a v1 clearing stored before failures carried their subscription, when read, then any subscription ending clears them (as decided then)', async () => {
    const t = uniqueTenant();
    const failed = (invoiceId: string, created: number) => ({ stripeEventId: `evt_${created}`, created, invoiceId, graceEndsAt: at, at });
    await store.append(`billing-${t}`, [
      { id: randomUUID(), type: 'StripeCustomerCreated', data: { customerId: 'cus_1', at }, metadata: meta(t) },
      { id: randomUUID(), type: 'SubscriptionStarted', data: { subscriptionId: 'sub_1', priceId: 'price_pro', tier: 'pro', at }, metadata: meta(t) },
      { id: randomUUID(), type: 'InvoicePaymentFailed', data: failed('in_A', 1_780_000_000), metadata: meta(t) },
      { id: randomUUID(), type: 'InvoicePaymentFailed', data: failed('in_B', 1_780_000_001), metadata: meta(t) },
    ], 'no_stream');
    const events = await codec.decodeStream('billing', await store.readStream(`billing-${t}`), 'stored');
    expect(events[2]).toMatchObject({ type: 'InvoicePaymentFailed', data: { invoiceId: 'in_A', origin: { kind: 'unrecorded' } } });
    expect(billingDecider.decide({ type: 'RecordSubscriptionEnded', subscriptionId: 'sub_1', at }, fold(billingDecider, events))).toContainEqual({
      type: 'PaymentFailureCleared',
      data: { invoiceIds: ['in_A', 'in_B'], cause: 'subscription_ended', standing: 'good', at },
    });
    await store.append(`billing-${t}`, [
      { id: randomUUID(), type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A', 'in_B'], cause: 'subscription_replaced', at }, metadata: meta(t) },
    ], 'any');
    const all = await codec.decodeStream('billing', await store.readStream(`billing-${t}`), 'stored');
    expect(all[4]).toMatchObject({ type: 'PaymentFailureCleared', data: { invoiceIds: ['in_A', 'in_B'], standing: 'good' } });
    expect(fold(billingDecider, all)).toMatchObject({ payment: { standing: 'good' } });
    expect(codec.storedTypes('InvoicePaymentFailed')).toEqual(['InvoicePaymentFailed', 'InvoicePaymentFailed.v2']);
    expect(codec.storedTypes('PaymentFailureCleared')).toEqual(['PaymentFailureCleared', 'PaymentFailureCleared.v2']);
  });

  it('writes the current version under its versioned name with personal fields sealed, and reads them back per mode', async () => {
    const t = uniqueTenant();
    const [stored] = await write('tenant', `tenant-${t}`, [created(t)]);
    expect(stored!.type).toBe('TenantCreated.v2');
    expect(stored!.metadata).toMatchObject({ enc: 1 });
    expect(JSON.stringify(stored!.data)).not.toMatch(/Acme Corp|ceo@acme/);
    expect(stored!.data).toMatchObject({ tenantId: t, tier: 'pro', name: expect.stringMatching(/^ocs1\./), email: expect.stringMatching(/^ocs1\./) });
    const [open] = await codec.decodeStream('tenant', [stored!], 'open');
    expect(open!.data).toMatchObject({ name: 'Acme Corp', email: 'ceo@acme.example' });
    const [sealed] = await codec.decode([stored!], 'stored');
    expect(sealed!.data).toMatchObject({ name: (stored!.data as { name: string }).name });
    expect(codec.storedTypes('TenantCreated')).toEqual(['TenantCreated', 'TenantCreated.v2']);
  });

  it('reveals secrets only in open mode: views mask them, the log and stored mode keep ciphertext', async () => {
    const t = uniqueTenant();
    const [, stored] = await write('tenant', `tenant-${t}`, [created(t), bot]);
    expect(JSON.stringify(stored!.data)).not.toContain('SECRET-TOKEN');
    const [view] = await codec.decode([stored!], 'view');
    const [open] = await codec.decode([stored!], 'open');
    expect(view).toMatchObject({ type: 'TelegramBotConnected', data: { token: SECRET_MARKER, botUsername: 'acme_bot' } });
    expect(open).toMatchObject({ data: { token: bot.data.token } });
    // a secret copied anywhere is not revealed on the way to a reader either
    const reveal = await codec.revealer(t);
    expect(reveal(`tenant-${t}`, 'TelegramBotConnected.token', (stored!.data as { token: string }).token)).toBe(SECRET_MARKER);
  });

  it('keeps credential hashes as stored for the components that check them; views mask them like secrets', async () => {
    const t = uniqueTenant();
    const issued = { type: 'ApiKeyIssued' as const, data: { keyId: 'key_1', scope: 'tenant' as const, label: 'ci', hash: 'f'.repeat(64), at } };
    const [, botStored, keyStored] = await write('tenant', `tenant-${t}`, [created(t), bot, issued]);
    expect(keyStored!.data).toMatchObject({ hash: 'f'.repeat(64) });
    const [botView, keyView] = await codec.decode([botStored!, keyStored!], 'view');
    expect(keyView!.data).toMatchObject({ keyId: 'key_1', label: 'ci', hash: SECRET_MARKER });
    expect(botView!.data).toMatchObject({ botUsername: 'acme_bot', webhookSecretHash: SECRET_MARKER });
    const [, keyOpen] = await codec.decode([botStored!, keyStored!], 'open');
    expect(keyOpen!.data).toMatchObject({ hash: 'f'.repeat(64) });
    const [botAsStored] = await codec.decode([botStored!], 'stored');
    expect(botAsStored!.data).toMatchObject({ webhookSecretHash: bot.data.webhookSecretHash });
  });

  it('a stored shape no version accepts is a typed decode error naming stream, revision and type', async () => {
    const t = uniqueTenant();
    const stream = `conversation-${t}.c1`;
    await store.append(stream, [{ id: randomUUID(), type: 'MessagePosted', data: { messageId: 'm1', role: 'boss', channel: 'api', text: 'x', at }, metadata: meta(t) }], 'no_stream');
    await store.append(stream, [{ id: randomUUID(), type: 'KnightRequested', data: {}, metadata: meta(t) }], 0);
    const [bad, foreign] = await store.readStream(stream);
    await expect(codec.decode([bad!], 'stored')).rejects.toMatchObject({
      code: 'event_decode_failed',
      kind: 'internal',
      details: { streamId: stream, revision: 0, eventType: 'MessagePosted' },
      message: expect.stringContaining('role'),
    });
    await expect(codec.decode([foreign!], 'stored')).rejects.toMatchObject({ code: 'event_decode_failed', details: { revision: 1, eventType: 'KnightRequested' } });
    await expect(codec.decode([{ ...bad!, type: 'MessagePosted.v9' }], 'stored')).rejects.toMatchObject({ code: 'event_decode_failed' });
  });

  it('a ciphertext tampered by one byte, or moved to another tenant or field, does not decrypt: a typed error, never garbage', async () => {
    const t = uniqueTenant();
    const other = uniqueTenant();
    const conversationId = asConversationId('c1');
    const posted = (text: string) => ({ type: 'MessagePosted', data: { messageId: randomUUID(), role: 'user', channel: 'api', text, external: null, inReplyTo: null, at } }) as const;
    const started = { type: 'ConversationStarted', data: { conversationId, tenantId: asTenantId(t), channel: 'api', externalChatId: null, title: 'private title', at } } as const;
    const [start, message] = await write('conversation', `conversation-${t}.c1`, [started, posted('meet me at noon')]);
    const text = (message!.data as { text: string }).text;
    const flip = (s: string) => `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    const tampered: RecordedEvent = { ...message!, data: { ...(message!.data as object), text: flip(text) } };
    await expect(codec.decode([tampered], 'view')).rejects.toMatchObject({
      code: 'decryption_failed',
      details: { streamId: `conversation-${t}.c1`, revision: 1, field: 'MessagePosted.text' },
    });
    // the same ciphertext in another tenant's stream, or in another field of the same stream
    await write('conversation', `conversation-${other}.c1`, [{ ...started, data: { ...started.data, tenantId: asTenantId(other) } }]);
    const moved: RecordedEvent = { ...message!, streamId: `conversation-${other}.c1`, metadata: { ...message!.metadata, tenantId: other } };
    await expect(codec.decode([moved], 'view')).rejects.toMatchObject({ code: 'decryption_failed' });
    const swapped: RecordedEvent = { ...start!, data: { ...(start!.data as object), title: text } };
    await expect(codec.decode([swapped], 'view')).rejects.toMatchObject({ code: 'decryption_failed', details: { field: 'ConversationStarted.title' } });
    expect((await codec.decode([message!], 'view'))[0]).toMatchObject({ data: { text: 'meet me at noon' } });
  });

  it('given a tenant whose data key is erased, its events still decode with markers, other tenants are untouched, and it gets no new key', async () => {
    const gone = uniqueTenant();
    const kept = uniqueTenant();
    const [goneEvent] = await write('tenant', `tenant-${gone}`, [created(gone)]);
    const [keptEvent] = await write('tenant', `tenant-${kept}`, [created(kept)]);
    const reveal = await codec.revealer(gone);
    const sealedName = (goneEvent!.data as { name: string }).name;
    expect(reveal(`tenant-${gone}`, 'TenantCreated.name', sealedName)).toBe('Acme Corp');
    await keys.erase(gone);
    await keys.erase(gone); // idempotent
    const [erased, untouched] = await codec.decode([goneEvent!, keptEvent!], 'open');
    expect(erased).toMatchObject({ data: { name: ERASED_MARKER, email: ERASED_MARKER, tier: 'pro' } });
    expect(untouched).toMatchObject({ data: { name: 'Acme Corp', email: 'ceo@acme.example' } });
    expect((await codec.revealer(gone))(`tenant-${gone}`, 'TenantCreated.name', sealedName)).toBe(ERASED_MARKER);
    await expect(codec.encode('tenant', `tenant-${gone}`, [{ id: randomUUID(), event: created(gone) }], meta(gone))).rejects.toMatchObject({ code: 'tenant_erased' });
    expect(await keys.cipherFor(gone, { create: true })).toBeUndefined();
  });

  it('the revealer passes values written before encryption, opens ciphertext in its own field only, and refuses a tampered one', async () => {
    const t = uniqueTenant();
    const [event] = await write('tenant', `tenant-${t}`, [created(t)]);
    const reveal = await codec.revealer(t);
    const name = (event!.data as { name: string }).name;
    expect(reveal(`tenant-${t}`, 'TenantCreated.name', 'plain old name')).toBe('plain old name');
    expect(reveal(`tenant-${t}`, 'TenantCreated.name', null)).toBeNull();
    expect(() => reveal(`tenant-${t}`, 'TenantCreated.email', name)).toThrow(expect.objectContaining({ code: 'decryption_failed' }));
    const cipher = (await keys.cipherFor(t))!;
    expect(cipher.open(fieldAad(t, `tenant-${t}`, 'TenantCreated.name'), name)).toBe('Acme Corp');
  });
});
