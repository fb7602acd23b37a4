import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { createHttpApi, installFallbacks } from '../adapters/http/index.ts';
import type { HttpApi } from '../adapters/http/index.ts';
import { createProjector, migrateReadModels } from '../adapters/projections/projector.ts';
import type { Projector } from '../adapters/projections/projector.ts';
import { createReadSide } from '../adapters/projections/read-side.ts';
import type { CommandPorts } from '../commands/context.ts';
import { createCommandShell } from '../commands/shell/handle-command.ts';
import type { ReadSide } from '../projections/read-side.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Logger } from './logger.ts';
import type { Storage } from './stores.ts';

export interface PlatformOptions {
  readonly storage: Storage;
  readonly eventSchema: string;
  readonly readModelSchema: string;
  readonly log: Logger;
  /** Raw environment for the HTTP API's own settings (auth, limits). */
  readonly env: Record<string, string | undefined>;
  /** Run the projector in this process (the embedded default, tests). */
  readonly projector: boolean;
}

export interface Platform {
  readonly ports: CommandPorts;
  readonly reads: ReadSide;
  readonly projector: Projector | undefined;
  readonly api: HttpApi;
  mount(app: Express): void;
  stop(): Promise<void>;
}

/** Wires the command side, the read side, the projector and the HTTP API over one storage. */
export const createPlatform = async (options: PlatformOptions): Promise<Platform> => {
  const { storage, log } = options;
  await migrateReadModels(storage.db, options.readModelSchema, PROJECTIONS);
  const projector = options.projector
    ? createProjector({
        db: storage.projectorDb,
        store: storage.store,
        schema: options.readModelSchema,
        projections: PROJECTIONS,
        onError: (error) => log.error({ err: error }, 'projector batch failed; retrying from the checkpoint'),
      })
    : undefined;
  const reads = createReadSide({
    db: storage.db,
    schema: options.readModelSchema,
    eventSchema: options.eventSchema,
    projections: PROJECTIONS,
    ...(projector ? { applied: projector.applied } : {}),
  });
  const ports: CommandPorts = {
    shell: createCommandShell({ store: storage.store }),
    clock: () => new Date(),
    newId: randomUUID,
    usage: {
      messagesToday: async (tenantId, day) => (await reads.usageCounts(tenantId, day)).messagesToday,
      activeKnights: async (tenantId) => (await reads.usageCounts(tenantId, new Date().toISOString().slice(0, 10))).activeKnights,
    },
  };
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined && v !== ''));
  const api = createHttpApi({ ports, reads, log, config: env });
  projector?.start();
  return {
    ports,
    reads,
    projector,
    api,
    mount(app) {
      api.mount(app);
      installFallbacks(app, log);
    },
    async stop() {
      await projector?.stop();
      await api.close();
    },
  };
};
