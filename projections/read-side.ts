import type { TenantId } from '../domain/shared/ids.ts';

/**
 * What the HTTP API reads. Every tenant query runs in a transaction as the API role with
 * `app.tenant_id` set for that transaction only; row-level security does the filtering, so a row of
 * another tenant is simply not there (404, never 403).
 */
export interface Page<T> {
  readonly items: T[];
  /** Opaque cursor for the next page, or null at the end. */
  readonly next: string | null;
}

export interface PageRequest {
  readonly limit: number; // 1..100, validated by the caller
  readonly cursor?: string | undefined; // opaque; an invalid cursor is a validation error (code invalid_cursor)
}

/** A message's place in the history as a query takes it: a decimal (see the messages projection). */
export const PLACE_PATTERN = /^\d{1,19}(\.\d{1,200})?$/;

/** A page of a history: oldest first (the default), or from the newest back, optionally before a place. */
export interface HistoryPageRequest extends PageRequest {
  readonly order?: 'oldest' | 'newest' | undefined;
  /** With `newest`: only messages placed before this place (a decimal the history handed out). */
  readonly before?: string | undefined;
}

export interface TenantView {
  tenantId: string;
  name: string;
  email: string | null;
  tier: 'free' | 'pro' | 'enterprise';
  status: 'active' | 'suspended' | 'erased';
  telegram: { botUsername: string } | null;
  whatsapp: { displayPhoneNumber: string } | null;
  /** The tenant's agent VM: its current request, and why it failed when it did (retry with a new request). */
  agentVm: {
    status: 'requested' | 'ready' | 'failed';
    requestId: string | null;
    vmId: string | null;
    failure: { stage: string; reason: string } | null;
  } | null;
  createdAt: string;
  updatedAt: string;
}

/** A line of the operator's tenant list. */
export interface TenantSummary {
  tenantId: string;
  name: string;
  email: string | null;
  tier: TenantView['tier'];
  status: TenantView['status'];
  createdAt: string;
  updatedAt: string;
}

export interface ApiKeyView {
  keyId: string;
  scope: 'tenant' | 'auditor';
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface ConversationView {
  conversationId: string;
  channel: 'api' | 'telegram' | 'whatsapp';
  /** The bot user's chat (Telegram chat id, WhatsApp number); null for the API's conversations. */
  externalChatId: string | null;
  title: string | null;
  status: 'open' | 'closed';
  messageCount: number;
  lastMessageAt: string | null;
  createdAt: string;
}

export interface MessageView {
  messageId: string;
  seq: number; // the message's revision in its conversation stream
  /**
   * Its place in the chat, a decimal (`"3"`, `"2.5"`): the history's order. The revision, or for a bot
   * user's message that arrived late a decimal between its neighbours (domain/conversation/place.ts).
   */
  place: string;
  role: 'user' | 'agent' | 'system';
  channel: 'api' | 'telegram' | 'whatsapp';
  text: string;
  delivery: 'none' | 'pending' | 'delivered' | 'read' | 'failed';
  /** The user message this one answers (an agent's reply), or null. */
  inReplyTo: string | null;
  createdAt: string;
}

export interface KnightView {
  knightId: string;
  status: string; // requested | provisioning | provisioned | working | failed | terminating | terminated
  task: string;
  cpu: number;
  ramGb: number;
  vmId: string | null;
  url: string | null;
  progress: number | null;
  /** What the last progress report said. */
  progressNote: string | null;
  /** The task's output once completed. */
  result: string | null;
  /** The screen at completion (https), or a live screenshot from the API while the knight's computer runs. */
  screenshotUrl: string | null;
  failure: { stage: string; reason: string } | null;
  createdAt: string;
  updatedAt: string;
}

export interface UsageView {
  messagesToday: number;
  activeKnights: number;
  knightMinutes: number;
}

export interface TenantReads {
  tenant(): Promise<TenantView | undefined>;
  /** Oldest first, then by key id; never a secret or a hash. */
  apiKeys(page: PageRequest): Promise<Page<ApiKeyView>>;
  conversations(page: PageRequest): Promise<Page<ConversationView>>;
  conversation(conversationId: string): Promise<ConversationView | undefined>;
  /** In the chat's order (`place`, then `seq`); `order: 'newest'` pages from the newest message back. */
  messages(conversationId: string, page: HistoryPageRequest): Promise<Page<MessageView>>;
  knights(page: PageRequest): Promise<Page<KnightView>>;
  knight(knightId: string): Promise<KnightView | undefined>;
  usage(day: string): Promise<UsageView>;
  /** What a tenant has at a glance, in one round trip: its tier, the day's usage and its newest knights. */
  overview(day: string, knightLimit: number): Promise<TenantOverview>;
}

export interface TenantOverview {
  readonly tier: TenantView['tier'] | undefined;
  readonly usage: UsageView;
  readonly knights: KnightView[];
}

/** The credential lookup runs before a tenant is known, through a narrow SECURITY DEFINER function. */
export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  scope: 'tenant' | 'auditor';
  hash: string;
  revoked: boolean;
}

export interface Freshness {
  /** True when every read model has applied all events up to `minPosition`. */
  readonly reached: boolean;
  /** The lowest position the read models have all reached. */
  readonly position: bigint | undefined;
  /** Events in the log past that position (0 when caught up). */
  readonly behindEvents: number;
}

export interface ReadSide {
  forTenant<T>(tenantId: TenantId, work: (reads: TenantReads) => Promise<T>): Promise<T>;
  findApiKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Whether the tenant has a row (created, not erased): one indexed read, nothing revealed. */
  tenantExists(tenantId: TenantId): Promise<boolean>;
  /** Every tenant, by tenant id (the operator's list; an invalid cursor is a validation error). */
  tenants(page: PageRequest): Promise<Page<TenantSummary>>;
  /**
   * Quota facts for the command side: user messages on `day` and knights at work, and the usage
   * projection's checkpoint (of `messagesToday`) in the same snapshot (undefined before its first batch).
   */
  usageCounts(tenantId: TenantId, day: string): Promise<{ messagesToday: number; activeKnights: number; position: bigint | undefined }>;
  /** Waits (bounded by timeoutMs, at most 2 s) until the read models have reached `minPosition`. */
  waitFor(minPosition: bigint, timeoutMs: number): Promise<Freshness>;
}
