import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { wrongExpectedRevision } from '../../../domain/ports/event-store.ts';

/** Just enough of the EventStore port for the command shell: append with expected revision, read a stream. */
export const memoryEventStore = () => {
  const all: RecordedEvent[] = [];
  const streams = new Map<string, RecordedEvent[]>();
  const byId = new Map<string, RecordedEvent>();
  let position = 0n;
  const store: EventStore = {
    async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      const stream = streams.get(streamId) ?? [];
      const current = stream.length - 1;
      const last = events.length ? byId.get(events[events.length - 1]!.id) : undefined;
      if (last && events.every((e) => byId.has(e.id))) return { nextRevision: current, position: last.position, duplicate: true };
      const ok =
        expected === 'any' ||
        (expected === 'no_stream' && stream.length === 0) ||
        (expected === 'stream_exists' && stream.length > 0) ||
        expected === current;
      if (!ok) throw wrongExpectedRevision(streamId, expected, stream.length ? current : 'no_stream');
      for (const event of events) {
        position += 1n;
        const recorded: RecordedEvent = { ...event, streamId, revision: stream.length, position, recordedAt: new Date() };
        stream.push(recorded);
        all.push(recorded);
        byId.set(event.id, recorded);
      }
      streams.set(streamId, stream);
      return { nextRevision: stream.length - 1, position, duplicate: false };
    },
    async readStream(streamId, options = {}) {
      const from = options.fromRevision ?? 0;
      return (streams.get(streamId) ?? []).slice(from, from + (options.maxCount ?? Number.MAX_SAFE_INTEGER));
    },
    async readAll(options = {}) {
      return all.filter((e) => options.after === undefined || e.position > options.after).slice(0, options.maxCount);
    },
    subscribe() {
      throw new Error('not used by these specs');
    },
    async headPosition() {
      return all.length ? position : undefined;
    },
    async close() {},
  };
  return { store, all };
};
