import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';

/** Every event of the log, page by page (a store caps one read). */
export const readWholeLog = async (store: EventStore): Promise<RecordedEvent[]> => {
  const all: RecordedEvent[] = [];
  for (let after: bigint | undefined; ; ) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 5_000 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.position;
  }
};
