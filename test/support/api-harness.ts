import type { Resolve } from '../../adapters/openclaw/address-guard.ts';
import { createLogger } from '../../runtime/logger.ts';
import type { Logger } from '../../runtime/logger.ts';
import { startStack } from '../../runtime/stack.ts';
import type { Stack } from '../../runtime/stack.ts';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from './postgres.ts';

export type ApiHarness = Stack;

/**
 * The real stack on the local PostgreSQL: event store, projector, read models under RLS and the
 * HTTP API on a free loopback port, in schemas of its own that `close()` drops.
 */
export const startApiHarness = async (env: Record<string, string> = {}, options: { saga?: boolean; bots?: boolean; agents?: boolean; projector?: 'inline' | 'thread' | 'none'; log?: Logger; resolveGatewayHost?: Resolve } = {}): Promise<ApiHarness> => {
  const schemas = { events: uniqueSchema('api_ev'), readModels: uniqueSchema('api_rm') };
  const stack = await startStack({
    databaseUrl: TEST_DATABASE_URL,
    schemas,
    log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    env: { JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long', ...env },
    poolSize: 6,
    ...(options.saga ? { saga: true } : {}),
    ...(options.bots ? { bots: true } : {}),
    ...(options.agents ? { agents: true } : {}),
    ...(options.resolveGatewayHost ? { resolveGatewayHost: options.resolveGatewayHost } : {}),
    ...(options.projector ? { projector: options.projector } : {}),
  });
  return {
    ...stack,
    async close() {
      await stack.close();
      await dropSchema(schemas.events);
      await dropSchema(schemas.readModels);
    },
  };
};
