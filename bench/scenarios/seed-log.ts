import { randomUUID } from 'node:crypto';
import type { EventStore, NewEvent } from '../../domain/ports/event-store.ts';

const meta = (tenantId: string) => ({ tenantId, actor: 'bench', correlationId: 'bench', causationId: null });
const at = (i: number) => new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString();
const ev = (tenantId: string, type: string, data: Record<string, unknown>): NewEvent => ({ id: randomUUID(), type, data, metadata: meta(tenantId) });

/**
 * A realistic log of about `target` events: tenants with keys, conversations full of messages
 * (user and agent, some delivered), and knights through their whole lifecycle.
 */
export const seedLog = async (store: EventStore, target: number, onProgress?: (n: number) => void): Promise<number> => {
  const perTenant = 1 + 2 + 25 * (1 + 180 + 20) + 5 * 7;
  const tenants = Math.max(1, Math.round(target / perTenant));
  let written = 0;
  for (let t = 0; t < tenants; t++) {
    const tenantId = `bench-${t}`;
    const appends: Array<Promise<unknown>> = [];
    const add = (stream: string, events: NewEvent[]) => {
      written += events.length;
      appends.push(store.append(stream, events, 'any'));
    };
    add(`tenant-${tenantId}`, [
      ev(tenantId, 'TenantCreated', { tenantId, name: `Bench ${t}`, tier: 'pro', at: at(0) }),
      ev(tenantId, 'ApiKeyIssued', { keyId: `k${t}a`.padEnd(12, '0'), scope: 'tenant', label: 'ci', hash: 'a'.repeat(64), at: at(1) }),
      ev(tenantId, 'ApiKeyIssued', { keyId: `k${t}b`.padEnd(12, '0'), scope: 'auditor', label: 'audit', hash: 'b'.repeat(64), at: at(2) }),
    ]);
    for (let c = 0; c < 25; c++) {
      const events = [ev(tenantId, 'ConversationStarted', { conversationId: `c${c}`, tenantId, channel: 'telegram', externalChatId: `${c}`, title: null, at: at(3) })];
      for (let m = 0; m < 180; m++) {
        const role = m % 2 === 0 ? 'user' : 'agent';
        events.push(ev(tenantId, 'MessagePosted', { messageId: `m${m}`, role, channel: 'telegram', text: `message ${m} of conversation ${c}: how is the website build going?`, at: at(4 + m) }));
        if (role === 'agent' && m % 9 === 1) events.push(ev(tenantId, 'MessageDelivered', { messageId: `m${m}`, channel: 'telegram', externalMessageId: `${m}`, at: at(5 + m) }));
      }
      add(`conversation-${tenantId}.c${c}`, events);
    }
    for (let k = 0; k < 5; k++)
      add(`knight-${tenantId}.k${k}`, [
        ev(tenantId, 'KnightRequested', { knightId: `k${k}`, tenantId, task: 'Build website', spec: { cpu: 2, ramGb: 4 }, at: at(10) }),
        ev(tenantId, 'KnightProvisioningStarted', { vmName: `knight-${k}`, at: at(11) }),
        ev(tenantId, 'KnightProvisioned', { vmId: `vm-${k}`, url: null, at: at(12) }),
        ev(tenantId, 'KnightTaskStarted', { taskId: 't1', description: 'Build website', at: at(13) }),
        ev(tenantId, 'KnightTaskProgressed', { taskId: 't1', percent: 50, note: 'half way', at: at(14) }),
        ev(tenantId, 'KnightTaskCompleted', { taskId: 't1', result: 'done', at: at(15) }),
        ev(tenantId, 'KnightTerminationRequested', { reason: 'done', at: at(16) }),
      ]);
    await Promise.all(appends);
    onProgress?.(written);
  }
  return written;
};
