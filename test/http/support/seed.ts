import { randomUUID } from 'node:crypto';
import { envelope } from '../../../commands/context.ts';
import type { Caller } from '../../../commands/context.ts';
import { asKnightId, asTenantId, knightDecider, knightStream } from '../../../domain/index.ts';
import type { ApiHarness } from '../../support/api-harness.ts';
import { client, ok } from './client.ts';
import { newTenant, tokenFor } from './journey.ts';

export interface SeededTenant {
  readonly tenantId: string;
  /** The key the operator issued (the tenant's credential) and a second one the tenant issued itself. */
  readonly key: string;
  readonly keyId: string;
  readonly spareKeyId: string;
  readonly token: string;
  readonly conversationIds: readonly string[];
  readonly messageIds: readonly string[];
  readonly knightId: string;
  /** The position of the tenant's last write: `?minPosition=` for reading all of it. */
  readonly position: string;
}

const later = (a: string, b: string | bigint | null | undefined): string => (b !== null && b !== undefined && BigInt(b) > BigInt(a) ? String(b) : a);

/**
 * Through the real HTTP API: a tenant, its key and token, a spare key, conversations each with a user
 * message, and a knight. `provisionKnight` moves the knight on to provisioned the way the provisioning
 * saga does (commands through the same shell), so that knight_usage has a row too.
 */
export const seedTenant = async (
  h: ApiHarness,
  options: { tier?: 'free' | 'pro' | 'enterprise'; conversations?: number; provisionKnight?: boolean } = {},
): Promise<SeededTenant> => {
  const operator = client(h.baseUrl, h.operatorKey);
  const made = await newTenant(operator, options.tier ?? 'enterprise');
  const me = client(h.baseUrl, made.key);
  let position = made.position;
  const spare = ok(await me.post<{ keyId: string; position: string }>('/api-keys', { label: 'spare' }), 201);
  position = later(position, spare.position);
  const conversationIds: string[] = [];
  const messageIds: string[] = [];
  for (let i = 0; i < (options.conversations ?? 1); i++) {
    const started = ok(await me.post<{ conversationId: string; position: string }>('/conversations', { title: `conversation ${i}` }), 201);
    const posted = ok(await me.post<{ messageId: string; position: string }>(`/conversations/${started.conversationId}/messages`, { text: `hello ${i} from ${made.tenantId}` }), 201);
    conversationIds.push(started.conversationId);
    messageIds.push(posted.messageId);
    position = later(position, posted.position);
  }
  const knight = ok(await me.post<{ knightId: string; position: string }>('/knights', { task: `task of ${made.tenantId}` }), 202);
  position = later(position, knight.position);
  if (options.provisionKnight) {
    const tenantId = asTenantId(made.tenantId);
    const caller: Caller = { tenantId, actor: 'system:test-saga', correlationId: randomUUID() };
    const stream = knightStream(tenantId, asKnightId(knight.knightId));
    const at = () => new Date().toISOString();
    await h.platform.ports.shell.handle(knightDecider, envelope(caller, stream, { type: 'StartKnightProvisioning', vmName: `vm-${knight.knightId}`, at: at() }));
    const done = await h.platform.ports.shell.handle(
      knightDecider,
      envelope(caller, stream, { type: 'MarkKnightProvisioned', vmId: `vm-${knight.knightId}`, url: 'https://knight.example/', at: at() }),
    );
    position = later(position, done.position);
  }
  return {
    tenantId: made.tenantId,
    key: made.key,
    keyId: made.keyId,
    spareKeyId: spare.keyId,
    token: await tokenFor(h.baseUrl, made.key),
    conversationIds,
    messageIds,
    knightId: knight.knightId,
    position,
  };
};

/** Waits until the read models have applied everything up to `position`. */
export const caughtUp = async (h: ApiHarness, position: string): Promise<void> => {
  const freshness = await h.platform.reads.waitFor(BigInt(position), 2_000);
  if (!freshness.reached) throw new Error(`read models stuck at ${freshness.position} behind ${position}`);
};
