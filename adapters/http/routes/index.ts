import { agentRoutes } from './agents.ts';
import { apiKeyRoutes } from './api-keys.ts';
import { auditRoutes } from './audit.ts';
import { authRoutes } from './auth.ts';
import { channelRoutes } from './channels.ts';
import { billingRoutes } from './billing.ts';
import { conversationRoutes } from './conversations.ts';
import { knightRoutes } from './knights.ts';
import type { ApiRoute } from './route.ts';
import { tenantRoutes } from './tenants.ts';

/** The route table: the router registers exactly these, and the OpenAPI document describes exactly these. */
export const API_ROUTES: readonly ApiRoute[] = [...authRoutes, ...tenantRoutes, ...apiKeyRoutes, ...conversationRoutes, ...knightRoutes, ...auditRoutes, ...channelRoutes, ...agentRoutes, ...billingRoutes];

export type { ApiRoute, RouteContext, RouteDeps, RouteReply, TenantSource } from './route.ts';
