import type { EventStore } from '../../domain/ports/event-store.ts';
import { createEventStoreDbStore } from '../../adapters/event-store/eventstoredb/index.ts';
import { eventStoreContract } from './event-store.contract.ts';

/**
 * The shared EventStore contract against a real EventStoreDB/KurrentDB, e.g.
 *   EVENTSTORE_URL='esdb://localhost:2113?tls=false' npx vitest run test/contract/eventstoredb.test.ts
 * The server cannot be reset between runs: every case uses fresh tenant ids (`uniqueTenant`, random
 * per run), so reruns against a persistent server do not collide. Without a server every case is
 * reported as skipped, with the reason.
 */
const url = process.env.EVENTSTORE_URL?.trim();
const skipped = url ? undefined : 'EVENTSTORE_URL is not set and no EventStoreDB server runs on this machine';
if (skipped) console.warn(`[EventStoreDB contract] skipped: ${skipped}`);

eventStoreContract(
  'EventStoreDB',
  async () => {
    const opened = new Set<EventStore>();
    return {
      // The server orders and commits each append itself; nothing can hold a commit open from outside.
      concurrentCommits: false,
      holdCommitUnsupported:
        'EventStoreDB commits each append atomically on the server; no client hook can hold a commit open while later ones commit',
      heldCommitRuns: 0,
      open: async () => {
        const store = createEventStoreDbStore({ connectionString: url! });
        opened.add(store);
        return store;
      },
      // nothing to drop: the cases' tenants are unique to this run; close any client a case left open
      teardown: async () => {
        await Promise.all([...opened].map((store) => store.close()));
      },
    };
  },
  skipped,
);
