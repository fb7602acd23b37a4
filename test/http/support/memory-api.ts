import { randomUUID } from 'node:crypto';
import express from 'express';
import { createHttpApi, installFallbacks } from '../../../adapters/http/index.ts';
import type { HttpApiDeps } from '../../../adapters/http/index.ts';
import { mintApiKey } from '../../../commands/tenants/api-keys.ts';
import { createCommandShell } from '../../../commands/shell/handle-command.ts';
import type { CommandPorts } from '../../../commands/context.ts';
import { silent } from '../../auth/fixtures.ts';
import { serve } from '../serve.ts';
import { memoryReadSide } from './memory-read-side.ts';
import { memoryEventStore } from './memory-store.ts';

/** The real router and commands over an in-memory event store and read side: API specs without a database. */
export const startMemoryApi = async (config: HttpApiDeps['config'] = {}) => {
  const { store, all } = memoryEventStore();
  const side = memoryReadSide(all);
  const operator = mintApiKey();
  const ports: CommandPorts = {
    shell: createCommandShell({ store }),
    clock: () => new Date(),
    newId: randomUUID,
    usage: {
      messagesToday: async (t) => (await side.usage(t)).messagesToday,
      activeKnights: async (t) => (await side.usage(t)).activeKnights,
    },
  };
  const api = createHttpApi({ ports, reads: side.reads, log: silent, config: { OPERATOR_API_KEY: operator.key, RATE_LIMIT_PREFIX: `m${randomUUID().slice(0, 8)}`, ...config } });
  const app = express();
  api.mount(app);
  installFallbacks(app, silent);
  const server = await serve(app);
  return { baseUrl: server.url, operatorKey: operator.key, events: all, readSide: side.state, api, close: async () => (await server.close(), await api.close()) };
};
