import { randomUUID } from 'node:crypto';
import type { EventsByCategory } from '../../domain/events.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { asConversationId, asKnightId, asTenantId } from '../../domain/shared/ids.ts';
import type { Category } from '../../domain/shared/streams.ts';

const meta = (tenantId: string) => ({ tenantId, actor: 'bench', correlationId: 'bench', causationId: null });
const at = (i: number) => new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString();

/**
 * A realistic log of about `target` events, written through the codec as the platform writes it
 * (personal data encrypted when the codec holds keys): tenants with keys, conversations full of
 * messages (user and agent, some delivered), and knights through their whole lifecycle.
 */
export const seedLog = async (store: EventStore, codec: EventCodec, target: number, onProgress?: (n: number) => void): Promise<number> => {
  const perTenant = 1 + 2 + 25 * (1 + 180 + 20) + 5 * 7;
  const tenants = Math.max(1, Math.round(target / perTenant));
  let written = 0;
  for (let t = 0; t < tenants; t++) {
    const tenantId = asTenantId(`bench-${t}`);
    const appends: Array<Promise<unknown>> = [];
    const add = <K extends Category>(category: K, stream: string, events: EventsByCategory[K][]) => {
      written += events.length;
      appends.push(
        codec
          .encode(category, stream, events.map((event) => ({ id: randomUUID(), event })), meta(tenantId))
          .then((encoded) => store.append(stream, encoded, 'any')),
      );
    };
    add('tenant', `tenant-${tenantId}`, [
      { type: 'TenantCreated', data: { tenantId, name: `Bench ${t}`, email: `ops@bench-${t}.example`, tier: 'pro', at: at(0) } },
      { type: 'ApiKeyIssued', data: { keyId: `k${t}a`.padEnd(12, '0'), scope: 'tenant', label: 'ci', hash: 'a'.repeat(64), at: at(1) } },
      { type: 'ApiKeyIssued', data: { keyId: `k${t}b`.padEnd(12, '0'), scope: 'auditor', label: 'audit', hash: 'b'.repeat(64), at: at(2) } },
    ]);
    for (let c = 0; c < 25; c++) {
      const conversationId = asConversationId(`c${c}`);
      const events: EventsByCategory['conversation'][] = [
        { type: 'ConversationStarted', data: { conversationId, tenantId, channel: 'telegram', externalChatId: `${c}`, title: null, at: at(3) } },
      ];
      for (let m = 0; m < 180; m++) {
        const role = m % 2 === 0 ? 'user' : 'agent';
        const text = `message ${m} of conversation ${c}: how is the website build going?`;
        events.push({ type: 'MessagePosted', data: { messageId: `m${m}`, role, channel: 'telegram', text, external: null, inReplyTo: null, at: at(4 + m) } });
        if (role === 'agent' && m % 9 === 1)
          events.push({ type: 'MessageDelivered', data: { messageId: `m${m}`, channel: 'telegram', externalMessageIds: [`${m}`], unconfirmedParts: 0, at: at(5 + m) } });
      }
      add('conversation', `conversation-${tenantId}.${conversationId}`, events);
    }
    for (let k = 0; k < 5; k++) {
      const knightId = asKnightId(`k${k}`);
      add('knight', `knight-${tenantId}.${knightId}`, [
        { type: 'KnightRequested', data: { knightId, tenantId, task: 'Build website', spec: { cpu: 2, ramGb: 4 }, at: at(10) } },
        { type: 'KnightProvisioningStarted', data: { vmName: `knight-${k}`, at: at(11) } },
        { type: 'KnightProvisioned', data: { vmId: `vm-${k}`, url: null, at: at(12) } },
        { type: 'KnightTaskStarted', data: { taskId: 't1', description: 'Build website', at: at(13) } },
        { type: 'KnightTaskProgressed', data: { taskId: 't1', percent: 50, note: 'half way', at: at(14) } },
        { type: 'KnightTaskCompleted', data: { taskId: 't1', result: 'done', screenshotUrl: null, at: at(15) } },
        { type: 'KnightTerminationRequested', data: { reason: 'done', at: at(16) } },
      ]);
    }
    await Promise.all(appends);
    onProgress?.(written);
  }
  return written;
};
