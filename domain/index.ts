export * from './shared/decider.ts';
export * from './shared/errors.ts';
export * from './shared/ids.ts';
export * from './shared/streams.ts';
export * from './tiers.ts';
export * from './tenant/index.ts';
export * from './conversation/index.ts';
export * from './knight/index.ts';
export type * from './events.ts';
