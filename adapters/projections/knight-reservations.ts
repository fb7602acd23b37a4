import type { KnightSlot } from '../../commands/context.ts';
import type { KnightId, TenantId } from '../../domain/shared/ids.ts';
import type { SqlDb } from '../event-store/sql/db.ts';

/**
 * How long a place stays held for a deploy that took it and never settled (its process ended while
 * deciding): far longer than a decision and its append take, short enough that a crash blocks a
 * tenant's next deploy for two minutes at most.
 */
export const PENDING_KNIGHT_RESERVATION_MS = 120_000;

export interface KnightReservationsOptions {
  readonly db: SqlDb;
  /** The read-model schema: the reservations are counted against its knights table and checkpoint. */
  readonly schema: string;
  readonly newId: () => string;
  readonly pendingMs?: number;
  /** A settle that failed (the database out of reach): the place then expires instead. */
  readonly onSettleFailed?: (error: unknown) => void;
}

/**
 * `UsageLookup.reserveKnight` in the read-model database that every API process shares: one
 * round trip to count and hold a place (`reserve_knight`, under a per-tenant advisory lock), one to
 * settle it (`settle_knight_reservation`). Both are SECURITY DEFINER functions for the tenant the
 * credential named: the API's own role still writes no table.
 */
export const knightReservations = (options: KnightReservationsOptions) => {
  const { db, schema } = options;
  const pendingMs = options.pendingMs ?? PENDING_KNIGHT_RESERVATION_MS;
  return async (tenantId: TenantId, knightId: KnightId): Promise<KnightSlot> => {
    const reservationId = options.newId();
    const { rows } = await db.query<{ counted: number }>(`SELECT ${schema}.reserve_knight($1, $2, $3, $4) AS counted`, [
      tenantId,
      reservationId,
      knightId,
      pendingMs,
    ]);
    let settled = false;
    return {
      count: Number(rows[0]!.counted),
      async settle(position) {
        if (settled) return;
        settled = true;
        await db
          .query(`SELECT ${schema}.settle_knight_reservation($1, $2, $3, $4)`, [tenantId, reservationId, knightId, position === undefined ? null : String(position)])
          .catch((error: unknown) => options.onSettleFailed?.(error));
      },
    };
  };
};
