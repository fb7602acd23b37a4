import { isUndecodable } from '../../domain/ports/codec.ts';
import type { EventCodec } from '../../domain/ports/codec.ts';
import type { Decoded } from '../../domain/events.ts';
import type { EventStore, RecordedEvent, Subscription } from '../../domain/ports/event-store.ts';
import { readModelMigration } from '../../projections/shared/migration.ts';
import type { Projection } from '../../projections/shared/projection.ts';
import type { Querier, SqlDb } from '../event-store/sql/db.ts';
import { migrateOnce } from '../event-store/sql/migrate.ts';
import { createNotifier } from '../event-store/sql/notifier.ts';
import { createWakeup } from '../event-store/sql/wakeup.ts';
import type { Wakeup } from '../event-store/sql/wakeup.ts';
import { trackFailures } from '../telemetry/health.ts';
import { countProjectorFailure, observeProjectorBatch } from '../telemetry/metrics.ts';
import { inEventsSpan } from '../telemetry/tracing.ts';
import { applyBatch } from './apply-batch.ts';
import type { Target } from './apply-batch.ts';

export interface ProjectorOptions {
  readonly db: SqlDb;
  readonly store: EventStore;
  /** Decodes each batch (`stored` mode: encrypted fields stay ciphertext in the read models). */
  readonly codec: EventCodec;
  readonly schema: string;
  readonly projections: readonly Projection[];
  readonly suffix?: string;
  readonly batchSize?: number;
  /**
   * After a batch smaller than `batchSize`, wait this long before reading the next one, so that
   * under a steady stream of commands batches grow instead of multiplying (each batch costs about
   * eight round trips whatever its size). Adds at most this much to the projection lag.
   */
  readonly lingerMs?: number;
  /** A batch failed; the projector retries it from the checkpoint after a pause. */
  readonly onError?: (error: unknown) => void;
  /**
   * An event in the log cannot be decoded: retrying cannot help and skipping it would corrupt the
   * read models, so the projector stops here, at the event before it, and reports why.
   */
  readonly onHalt?: (error: unknown) => void;
  /** Called after each batch commits: the position reached and how many events the batch held. */
  readonly onApplied?: (position: bigint, events: number) => void;
}

// roles are cluster-wide: one read-model migration at a time across databases too
export const migrateReadModels = (db: SqlDb, schema: string, projections: readonly Projection[]) =>
  migrateOnce(db, schema, 'openclaw-read-models', readModelMigration(schema, projections));

/** The channel a projector NOTIFYs with the position of each batch it committed. */
export const projectedChannel = (target: Target) => `${target.schema}${target.suffix}_projected`;

/** Position every projection of this target has reached (the lowest checkpoint), or undefined. */
export const readCheckpoint = async (db: Querier, target: Target, projections: readonly Projection[]) => {
  const names = projections.map((p) => `${p.name}${target.suffix}`);
  const { rows } = await db.query<{ name: string; position: string }>(
    `SELECT name, position FROM ${target.schema}.checkpoints WHERE name = ANY($1::text[])`,
    [names],
  );
  if (rows.length < names.length) return undefined;
  return rows.reduce((min, r) => (BigInt(r.position) < min ? BigInt(r.position) : min), BigInt(rows[0]!.position));
};

/** A batch decoded; if an event in it cannot be, the events before it and the error. */
const decodeUpToFailure = async (codec: EventCodec, stored: readonly RecordedEvent[]): Promise<{ events: Decoded[]; failure?: unknown }> => {
  try {
    return { events: await codec.decode(stored, 'stored') };
  } catch (error) {
    if (!isUndecodable(error)) throw error;
    const events: Decoded[] = [];
    for (const event of stored) {
      try {
        events.push(...(await codec.decode([event], 'stored')));
      } catch (failure) {
        return { events, failure };
      }
    }
    return { events, failure: error };
  }
};

/** Errors no retry can mend: the stored event itself is unreadable. */

/**
 * The projector: one subscription over the log from the lowest checkpoint, each batch decoded and
 * applied to every projection in one transaction. A failed batch restarts the subscription from
 * the checkpoints after a pause; nothing is skipped, nothing applied twice. An event that does not
 * decode halts it (`failure` says why) instead of being skipped.
 */
export const createProjector = (options: ProjectorOptions) => {
  const target: Target = { schema: options.schema, suffix: options.suffix ?? '' };
  const applied: Wakeup = createWakeup();
  const batchSize = options.batchSize ?? 1_000;
  const linger = options.lingerMs ?? 0;
  let subscription: Subscription | undefined;
  let running = false;
  let position: bigint | undefined;
  let failure: unknown;
  let health: ReturnType<typeof trackFailures> | undefined;
  // Other processes (an API waiting for minPosition, a dashboard) learn of each applied batch by
  // NOTIFY <schema>_projected '<position>', sent after the commit, at most one in flight.
  const announcer = createNotifier(options.db, projectedChannel(target), () => String(position));
  const run = async () => {
    while (running) {
      let from: bigint | undefined;
      try {
        from = await readCheckpoint(options.db, target, options.projections);
      } catch (error) {
        // not "no checkpoint": starting over from the log's beginning would re-read all of it
        if (!running) return;
        countProjectorFailure(target.schema, 'error');
        health?.failed(error);
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (!running) return; // stopped while reading the checkpoint: no subscription to leave behind
      const current = options.store.subscribe(
        { ...(from !== undefined && from >= 0n ? { after: from } : {}), batchSize },
        async (stored) => {
          const { events, failure: undecodable } = await decodeUpToFailure(options.codec, stored);
          if (events.length > 0)
            await inEventsSpan('projector batch', events, { 'openclaw.schema': target.schema }, () =>
              options.db.transaction((tx) => applyBatch(tx, target, options.projections, events)),
            );
          if (undecodable) throw undecodable; // everything before it is applied: the checkpoint stops right before it
          position = events[events.length - 1]!.position;
          observeProjectorBatch(target.schema, events.length);
          health?.succeeded();
          applied.notify();
          options.onApplied?.(position, events.length);
          announcer.notify();
          if (linger > 0 && events.length < batchSize && running) await new Promise((resolve) => setTimeout(resolve, linger));
        },
      );
      subscription = current;
      try {
        await current.done;
      } catch (error) {
        if (isUndecodable(error)) {
          running = false;
          failure = error;
          countProjectorFailure(target.schema, 'halt');
          health?.halted(error);
          options.onHalt?.(error);
          return;
        }
        countProjectorFailure(target.schema, 'error');
        health?.failed(error);
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  };

  let loop: Promise<void> | undefined;
  return {
    target,
    /** Signals after every applied batch, for in-process read-your-writes waiters. */
    applied,
    get position() {
      return position;
    },
    /** Why the projector halted, if it did (an event that cannot be decoded). */
    get failure() {
      return failure;
    },
    start() {
      if (running) return;
      failure = undefined;
      running = true;
      health?.remove();
      health = trackFailures(`projector:${target.schema}${target.suffix}`);
      loop = run();
    },
    async stop() {
      running = false;
      health?.remove();
      health = undefined;
      await subscription?.close();
      await loop;
      await announcer.drain();
    },
  };
};

export type Projector = ReturnType<typeof createProjector>;
