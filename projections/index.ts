import { apiKeysProjection } from './api-keys/projection.ts';
import { conversationsProjection } from './conversations/projection.ts';
import { knightsProjection } from './knights/projection.ts';
import { messagesProjection } from './messages/projection.ts';
import type { Projection } from './shared/projection.ts';
import { tenantsProjection } from './tenants/projection.ts';
import { usageProjection } from './usage/projection.ts';

/**
 * Every read model. All are async (fed by the projector from the log), none inline: the command
 * path stays one append, and read-your-writes comes from `minPosition` instead.
 */
export const PROJECTIONS: readonly Projection[] = [
  tenantsProjection,
  apiKeysProjection,
  conversationsProjection,
  messagesProjection,
  knightsProjection,
  usageProjection,
];

export const projectionNamed = (name: string): Projection | undefined => PROJECTIONS.find((p) => p.name === name);
