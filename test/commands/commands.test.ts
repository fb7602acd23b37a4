import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../adapters/event-store/postgres.ts';
import type { Caller, CommandPorts } from '../../commands/context.ts';
import { closeConversation } from '../../commands/conversations/close-conversation.ts';
import { postMessage, postMessageInput } from '../../commands/conversations/post-message.ts';
import { startConversation } from '../../commands/conversations/start-conversation.ts';
import { deployKnight, deployKnightInput } from '../../commands/knights/deploy-knight.ts';
import { terminateKnight } from '../../commands/knights/terminate-knight.ts';
import { hashApiKeySecret, issueApiKey, parseApiKey } from '../../commands/tenants/api-keys.ts';
import { reinstateTenant, suspendTenant } from '../../commands/tenants/change-tenant.ts';
import { createTenant, createTenantInput } from '../../commands/tenants/create-tenant.ts';
import { createCommandShell } from '../../commands/shell/handle-command.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { TenantId } from '../../domain/index.ts';
import { openTestCodec } from '../support/codec.ts';
import { uniqueTenant } from '../support/ids.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres.ts';

describe('command files: validated input → domain command → shell', () => {
  const schema = uniqueSchema('commands');
  let store: EventStore;
  let ports: CommandPorts;
  let knightsRunning = 0;
  let closeCodec: () => Promise<void>;
  beforeAll(async () => {
    store = await createPostgresEventStore({ connectionString: TEST_DATABASE_URL, schema });
    const opened = await openTestCodec(schema);
    closeCodec = opened.close;
    ports = {
      shell: createCommandShell({ store, codec: opened.codec }),
      clock: () => new Date('2026-11-30T12:00:00Z'),
      newId: randomUUID,
      // The usage read model arrives with the projections; here the test states the facts.
      usage: { messagesToday: async () => 0, activeKnights: async () => knightsRunning },
    };
  });
  afterAll(async () => {
    await store.close();
    await closeCodec();
    await dropSchema(schema);
  });
  const operator = (): Caller => ({ tenantId: 'platform' as TenantId, actor: 'operator', correlationId: randomUUID() });
  const as = (tenantId: string): Caller => ({ tenantId: tenantId as TenantId, actor: 'apikey:test', correlationId: randomUUID() });

  it('creates a tenant once: its slug is taken for good', async () => {
    const slug = uniqueTenant();
    const created = await createTenant(ports, operator(), createTenantInput.parse({ slug, name: 'Acme' }));
    expect(created).toMatchObject({ streamId: `tenant-${slug}`, revision: 0, duplicate: false });
    await expect(createTenant(ports, operator(), createTenantInput.parse({ slug, name: 'Other' }))).rejects.toMatchObject({ code: 'tenant_exists' });
    const [event] = await store.readStream(`tenant-${slug}`);
    expect(event!.metadata).toMatchObject({ tenantId: slug, actor: 'operator' });
  });

  it('issues an API key whose secret is returned once and stored only as a hash', async () => {
    const slug = uniqueTenant();
    await createTenant(ports, operator(), createTenantInput.parse({ slug, name: 'Acme' }));
    const issued = await issueApiKey(ports, operator(), slug as TenantId, { label: 'ci', scope: 'tenant' });
    const parsed = parseApiKey(issued.key!)!;
    expect(parsed.keyId).toBe(issued.keyId);
    const events = await store.readStream(`tenant-${slug}`);
    const raw = JSON.stringify(events.map((e) => [e.data, e.metadata]));
    expect(raw).not.toContain(parsed.secret);
    expect(raw).toContain(hashApiKeySecret(parsed.secret));
  });

  it('runs a conversation: a suspended tenant is refused, a closed conversation takes no messages', async () => {
    const slug = uniqueTenant();
    await createTenant(ports, operator(), createTenantInput.parse({ slug, name: 'Acme' }));
    const { conversationId } = await startConversation(ports, as(slug), { title: 'hello' });
    const posted = await postMessage(ports, as(slug), conversationId, postMessageInput.parse({ text: 'hi there' }));
    expect(BigInt(posted.position!)).toBeGreaterThan(0n);
    await suspendTenant(ports, operator(), slug as TenantId, { reason: 'unpaid' });
    await expect(postMessage(ports, as(slug), conversationId, { text: 'again' })).rejects.toMatchObject({ code: 'tenant_suspended' });
    await reinstateTenant(ports, operator(), slug as TenantId);
    await postMessage(ports, as(slug), conversationId, { text: 'back' });
    await closeConversation(ports, as(slug), conversationId, { reason: 'done' });
    await expect(postMessage(ports, as(slug), conversationId, { text: 'late' })).rejects.toMatchObject({ code: 'conversation_closed' });
    const types = (await store.readStream(`conversation-${slug}.${conversationId}`)).map((e) => e.type);
    expect(types).toEqual(['ConversationStarted', 'MessagePosted.v2', 'MessagePosted.v2', 'ConversationClosed']);
  });

  it('deploys knights up to the tier limit, and terminating twice is a no-op', async () => {
    const slug = uniqueTenant();
    await createTenant(ports, operator(), createTenantInput.parse({ slug, name: 'Acme', tier: 'free' }));
    knightsRunning = 0;
    const first = await deployKnight(ports, as(slug), deployKnightInput.parse({ task: 'Build website' }));
    knightsRunning = 1;
    await expect(deployKnight(ports, as(slug), deployKnightInput.parse({ task: 'Another' }))).rejects.toMatchObject({
      code: 'knight_limit_reached',
    });
    const once = await terminateKnight(ports, as(slug), first.knightId, { reason: 'done' });
    const twice = await terminateKnight(ports, as(slug), first.knightId, { reason: 'done' });
    expect(twice.revision).toBe(once.revision);
    expect(await store.readStream(`knight-${slug}.${first.knightId}`)).toHaveLength(2);
  });

  it('refuses unknown and smuggled fields at the edge', () => {
    expect(createTenantInput.safeParse({ slug: 'acme', name: 'A', tenantId: 'other' }).success).toBe(false);
    expect(postMessageInput.safeParse({ text: 'x', role: 'agent' }).success).toBe(false);
    expect(postMessageInput.safeParse(JSON.parse('{"text":"x","__proto__":{"admin":true}}')).success).toBe(false);
    expect(deployKnightInput.safeParse({ task: 'x', cpu: 3 }).success).toBe(false);
    expect(createTenantInput.safeParse({ slug: 'Acme!', name: 'A' }).success).toBe(false);
    expect(postMessageInput.safeParse({ text: 'a\u0000b' }).success).toBe(false);
  });
});
