import type { RecordedEvent } from '../../../domain/ports/event-store.ts';
import { domainError } from '../../../domain/shared/errors.ts';
import type { TenantId } from '../../../domain/shared/ids.ts';
import type {
  ApiKeyRecord, ApiKeyView, ConversationView, KnightView, MessageView, Page, PageRequest, ReadSide, TenantReads, TenantView,
} from '../../../projections/read-side.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a loose view of event data in a test double
type Data = Record<string, any>;

interface TenantRows {
  tenant?: TenantView;
  keys: Map<string, ApiKeyView & { hash: string }>;
  conversations: Map<string, ConversationView & { messages: MessageView[] }>;
  knights: Map<string, KnightView>;
}

const page = <T>(rows: T[], request: PageRequest): Page<T> => {
  const start = request.cursor === undefined ? 0 : Number.parseInt(request.cursor, 10);
  if (!Number.isInteger(start) || start < 0 || String(start) !== request.cursor && request.cursor !== undefined)
    throw domainError('validation', 'invalid_cursor', 'invalid cursor');
  const items = rows.slice(start, start + request.limit);
  return { items, next: start + request.limit < rows.length ? String(start + request.limit) : null };
};

/**
 * A naive in-memory stand-in for the PostgreSQL read models, for router specs without a database.
 * `lagging = true` stops it from applying new events, to exercise the read-your-writes headers.
 */
export const memoryReadSide = (events: readonly RecordedEvent[]) => {
  const tenants = new Map<string, TenantRows>();
  const keyOwners = new Map<string, string>();
  let applied = 0;
  const state = { lagging: false };
  const rows = (t: string) => tenants.get(t) ?? (tenants.set(t, { keys: new Map(), conversations: new Map(), knights: new Map() }), tenants.get(t)!);

  const apply = (e: RecordedEvent) => {
    const d = e.data as Data;
    const r = rows(e.metadata.tenantId);
    const at = String(d.at);
    const entity = e.streamId.slice(e.streamId.indexOf('.') + 1);
    switch (e.type) {
      case 'TenantCreated':
        r.tenant = { tenantId: String(d.tenantId), name: String(d.name), tier: d.tier as TenantView['tier'], status: 'active', telegram: null, whatsapp: null, agentVm: null, createdAt: at, updatedAt: at };
        break;
      case 'TenantTierChanged': r.tenant!.tier = d.to as TenantView['tier']; break;
      case 'TenantSuspended': r.tenant!.status = 'suspended'; break;
      case 'TenantReinstated': r.tenant!.status = 'active'; break;
      case 'ApiKeyIssued':
        r.keys.set(String(d.keyId), { keyId: String(d.keyId), scope: d.scope as 'tenant', label: String(d.label), createdAt: at, revokedAt: null, hash: String(d.hash) });
        keyOwners.set(String(d.keyId), e.metadata.tenantId);
        break;
      case 'ApiKeyRevoked': r.keys.get(String(d.keyId))!.revokedAt = at; break;
      case 'ConversationStarted':
        r.conversations.set(entity, { conversationId: entity, channel: 'api', title: (d.title as string | null) ?? null, status: 'open', messageCount: 0, lastMessageAt: null, createdAt: at, messages: [] });
        break;
      case 'MessagePosted': {
        const c = r.conversations.get(entity)!;
        c.messages.push({ messageId: String(d.messageId), seq: c.messages.length + 1, role: d.role as 'user', channel: d.channel as 'api', text: String(d.text), delivery: 'none', createdAt: at });
        c.messageCount++;
        c.lastMessageAt = at;
        break;
      }
      case 'ConversationClosed': r.conversations.get(entity)!.status = 'closed'; break;
      case 'KnightRequested': {
        const spec = d.spec as unknown as { cpu: number; ramGb: number };
        r.knights.set(entity, { knightId: entity, status: 'requested', task: String(d.task), cpu: spec.cpu, ramGb: spec.ramGb, vmId: null, url: null, progress: null, createdAt: at, updatedAt: at });
        break;
      }
      case 'KnightTerminationRequested': r.knights.get(entity)!.status = 'terminating'; break;
    }
  };
  const catchUp = () => {
    if (state.lagging) return;
    while (applied < events.length) apply(events[applied++]!);
  };
  const appliedPosition = () => (applied ? events[applied - 1]!.position : undefined);

  const readsFor = (tenantId: string): TenantReads => {
    const r = rows(tenantId);
    const strip = ({ hash: _h, ...view }: ApiKeyView & { hash: string }): ApiKeyView => view;
    const conversation = (id: string) => {
      const c = r.conversations.get(id);
      if (!c) return undefined;
      const { messages: _m, ...view } = c;
      return view;
    };
    return {
      tenant: async () => r.tenant,
      apiKeys: async () => [...r.keys.values()].map(strip),
      conversations: async (p) => page([...r.conversations.keys()].reverse().map((id) => conversation(id)!), p),
      conversation: async (id) => conversation(id),
      messages: async (id, p) => page(r.conversations.get(id)?.messages ?? [], p),
      knights: async (p) => page([...r.knights.values()].reverse(), p),
      knight: async (id) => r.knights.get(id),
      usage: async () => ({ messagesToday: [...r.conversations.values()].reduce((n, c) => n + c.messages.length, 0), activeKnights: r.knights.size, knightMinutes: 0 }),
    };
  };

  const reads: ReadSide = {
    async forTenant<T>(tenantId: TenantId, work: (reads: TenantReads) => Promise<T>) {
      catchUp();
      return work(readsFor(tenantId));
    },
    async findApiKey(keyId): Promise<ApiKeyRecord | undefined> {
      catchUp();
      const owner = keyOwners.get(keyId);
      const key = owner === undefined ? undefined : rows(owner).keys.get(keyId);
      return key && owner ? { keyId, tenantId: owner, scope: key.scope, hash: key.hash, revoked: key.revokedAt !== null } : undefined;
    },
    async waitFor(minPosition) {
      catchUp();
      const position = appliedPosition();
      return { reached: position !== undefined && position >= minPosition, position, behindEvents: events.length - applied };
    },
  };
  return { reads, state, usage: (t: string) => readsFor(t).usage('') };
};
