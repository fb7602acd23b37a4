import type { Querier } from './db.ts';

/**
 * NOTIFY on a channel after a commit, in a tiny transaction of its own, at most one in flight:
 * a burst of calls sends one more NOTIFY once the current one is done, carrying the latest payload.
 * (NOTIFY inside a writing transaction would hold a database-wide lock through its WAL flush.)
 */
export const createNotifier = (db: Querier, channel: string, payload: () => string = () => '') => {
  let inFlight: Promise<void> | undefined;
  let again = false;
  const notify = (): void => {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = db
      .query(`SELECT pg_notify($1, $2)`, [channel, payload()])
      .then(() => undefined, () => undefined)
      .finally(() => {
        inFlight = undefined;
        if (again) {
          again = false;
          notify();
        }
      });
  };
  return {
    notify,
    /** Resolves when no NOTIFY is in flight (call before closing the database). */
    async drain() {
      while (inFlight) await inFlight;
    },
  };
};
