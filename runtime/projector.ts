import { createProjector } from '../adapters/projections/projector.ts';
import type { ProjectorOptions } from '../adapters/projections/projector.ts';
import { PROJECTIONS } from '../projections/index.ts';
import type { Logger } from './logger.ts';
import type { Storage } from './stores.ts';

/**
 * The projector as every role runs it (inline, in a thread, on its own): all read models of
 * `schema`, fed from the storage's log, a failed batch logged and retried from the checkpoint.
 */
export const projectorOn = (
  storage: Storage,
  log: Logger,
  options: { schema: string; lingerMs?: number; db?: Storage['db']; onApplied?: ProjectorOptions['onApplied']; onFailure?: (kind: 'error' | 'halt') => void },
) =>
  createProjector({
    db: options.db ?? storage.db,
    store: storage.store,
    codec: storage.codec,
    schema: options.schema,
    projections: PROJECTIONS,
    ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
    ...(options.onApplied ? { onApplied: options.onApplied } : {}),
    onError: (error) => {
      log.error({ err: error }, 'projector batch failed; retrying from the checkpoint');
      options.onFailure?.('error');
    },
    onHalt: (error) => {
      log.fatal({ err: error }, 'projector halted: an event in the log cannot be decoded; the read models stop before it');
      options.onFailure?.('halt');
    },
  });
