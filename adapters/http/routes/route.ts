import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import type { GatewayPolicy } from '../../../commands/agents/agent-gateway.ts';
import type { Accepted, Caller, CommandPorts } from '../../../commands/context.ts';
import type { ChannelPlatforms } from '../../../domain/ports/channels.ts';
import type { BillingLinks } from '../../../domain/ports/billing.ts';
import type { VmProvider } from '../../../domain/ports/vm-provider.ts';
import type { AuditLog } from '../../audit/service.ts';
import type { TenantId } from '../../../domain/shared/ids.ts';
import { ENTITY_ID_PATTERN, TENANT_ID_PATTERN } from '../../../domain/shared/ids.ts';
import type { ReadSide } from '../../../projections/read-side.ts';
import type { Auth } from '../../auth/index.ts';
import type { Principal, Scope } from '../../auth/principal.ts';
import { pageQuery } from '../../limits/page.ts';

export type Method = 'get' | 'post' | 'delete';

/** Where the tenant of a request comes from: the credential, the path (operator routes), or nowhere. */
export type TenantSource = 'credential' | 'path' | 'none';

export interface RouteDeps {
  readonly ports: CommandPorts;
  readonly reads: ReadSide;
  readonly auth: Auth;
  /** The computers knights run on, for live screenshots; absent when this process has no Orgo connection. */
  readonly vms?: VmProvider | undefined;
  /** The tenant's raw history for auditors (export, digest, state as of a point); absent where not wired. */
  readonly audit?: AuditLog | undefined;
  /** Telegram and WhatsApp, for connecting a tenant's bot and number; absent where this process has none. */
  readonly channels?: ChannelPlatforms | undefined;
  /** Stripe Checkout and portal links; absent when billing is off. */
  readonly billing?: BillingLinks | undefined;
  /** Which gateway URLs a tenant may connect (GATEWAY_ALLOW_PRIVATE_NETWORKS); without it, only public addresses. */
  readonly gatewayPolicy?: GatewayPolicy | undefined;
}

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly principal: Principal;
  /** The request's tenant; throws on a route whose tenant source is `none`. */
  readonly tenantId: TenantId;
  /** Caller for the command: tenant, actor, correlation id, traceparent, idempotency. */
  caller(tenantId?: TenantId): Caller;
  /** A stable id derived from the Idempotency-Key (so a replay targets the same stream), else a fresh one. */
  newId(kind: string): string;
  readonly deps: RouteDeps;
}

export interface RouteReply {
  readonly status?: number;
  readonly body: unknown;
  /** A replay of an earlier Idempotency-Key: answered with `Idempotent-Replayed: true`. */
  readonly duplicate?: boolean;
  /** Instead of a JSON body: chunks written as they come (NDJSON), with this content type. */
  readonly stream?: { readonly contentType: string; readonly chunks: AsyncIterable<string> };
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly method: Method;
  /** Express path relative to /api/v1, e.g. `/conversations/:conversationId`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly scopes: readonly Scope[];
  readonly tenant: TenantSource;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Success status, documented in the OpenAPI document. */
  readonly status: number;
  /** Content type of a success when it is not JSON (a streamed reply). */
  readonly produces?: string;
  handle(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<RouteReply>;
}

export type ApiRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

export const defineRoute = <
  P extends z.ZodType = z.ZodObject<Record<string, never>>,
  Q extends z.ZodType = z.ZodObject<Record<string, never>>,
  B extends z.ZodType = z.ZodObject<Record<string, never>>,
>(
  spec: RouteSpec<P, Q, B>,
): ApiRoute => spec as unknown as ApiRoute;

// Shared pieces of the route table's schemas.
export const tenantIdParam = z.string().regex(TENANT_ID_PATTERN, 'not a tenant id');
export const entityIdParam = z.string().regex(ENTITY_ID_PATTERN, 'must be 1–64 characters of A-Z, a-z, 0-9, _ and -');
export const keyIdParam = z.string().regex(/^[a-z0-9]{12}$/, 'not an API key id');
export const noBody = z.object({}).strict();

/** `?minPosition=` (a command's `position`): wait up to 2 s for the read models to reach it. */
export const freshnessQuery = z.object({
  minPosition: z.string().regex(/^\d{1,30}$/, 'must be a decimal position').transform(BigInt).optional(),
});
export const pagedQuery = pageQuery.extend(freshnessQuery.shape);

export const positioned = (accepted: Accepted) => ({ position: accepted.position });

const IDEMPOTENT_ID_NAMESPACE = '0c1f3f5e-7a52-5f0b-a3c4-6f1e2d9b8a70';
export const derivedId = (kind: string, tenantId: string, idempotencyKey: string): string =>
  uuidv5(`${kind}|${tenantId}|${idempotencyKey}`, IDEMPOTENT_ID_NAMESPACE);
