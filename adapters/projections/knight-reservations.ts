import type { KnightSlot } from '../../commands/context.ts';
import type { KnightId, TenantId } from '../../domain/shared/ids.ts';
import { AppError } from '../../domain/shared/errors.ts';
import { sqlState } from '../event-store/sql/db.ts';
import type { Querier, SqlDb } from '../event-store/sql/db.ts';
import { asTenant } from './tenant-session.ts';

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

const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * `reserve_knight` refused the session (42501): not the client's doing but a process and a database
 * function of different releases (e.g. a process of an older release, during a rolling deploy, against
 * functions that refuse its session). A 503 with Retry-After: the retry reaches another process.
 */
const placesRefused = (cause: unknown): AppError =>
  new AppError('unavailable', 'knight_places_unavailable', "the tenant's knight places could not be checked (a deploy of the service may be under way); try again shortly", undefined, { cause });

/**
 * `UsageLookup.reserveKnight` in the read-model database that every API process shares: one
 * round trip to count and hold a place (`reserve_knight`, under a per-tenant advisory lock), one to
 * settle it (`settle_knight_reservation`). Both are SECURITY DEFINER functions for the tenant the
 * credential named: the API's own role still writes no table. Each call runs in a transaction that
 * first drops to the API role and sets `app.tenant_id` to that tenant, as a tenant read does: the
 * functions refuse any other tenant than the session's, so a place is never held or given back in
 * another tenant's name. One round trip more each (BEGIN, COMMIT). Their refusal is a 503, not a 500.
 */
export const knightReservations = (options: KnightReservationsOptions) => {
  const { db, schema } = options;
  const pendingMs = options.pendingMs ?? PENDING_KNIGHT_RESERVATION_MS;
  return async (tenantId: TenantId, knightId: KnightId): Promise<KnightSlot> => {
    const reservationId = options.newId();
    /** One call as the tenant (see above): a transaction of its own, set to it. */
    const asTheTenant = asTenant(tenantId);
    const call = <R extends Record<string, unknown>>(sql: string, params: unknown[]) => db.transaction((tx) => tx.query<R>(sql, params), undefined, asTheTenant);
    const { rows } = await call<{ counted: number }>(`SELECT ${schema}.reserve_knight($1, $2, $3, $4) AS counted`, [tenantId, reservationId, knightId, pendingMs])
      .catch((error: unknown) => {
        throw sqlState(error) === INSUFFICIENT_PRIVILEGE ? placesRefused(error) : error;
      });
    let settled = false;
    return {
      count: Number(rows[0]!.counted),
      async settle(position) {
        if (settled) return;
        settled = true;
        await call(`SELECT ${schema}.settle_knight_reservation($1, $2, $3, $4)`, [tenantId, reservationId, knightId, position === undefined ? null : String(position)])
          .catch((error: unknown) => options.onSettleFailed?.(error));
      },
    };
  };
};

/**
 * An erased tenant's places, deleted in the projector's batch that applies its TenantErased (as the
 * projector's role): an erased tenant never deploys again, so its next reservation would never clear them.
 */
export const dropErasedTenantsReservations = async (tx: Querier, schema: string, tenantIds: readonly string[]): Promise<void> => {
  if (tenantIds.length > 0) await tx.query(`DELETE FROM ${schema}.knight_reservations WHERE tenant_id = ANY($1::text[])`, [[...new Set(tenantIds)]]);
};
