import { describe, expect, it } from 'vitest';
import type { Decoded } from '../../domain/events.ts';
import { messagesProjection } from '../../projections/messages/projection.ts';
import type { Row } from '../../projections/shared/projection.ts';

/** The messages reducer's delivery column, folded over events as the projector folds them (an undefined answer keeps the row). */
const reducer = messagesProjection.reducers[0]!;
const fold = (events: readonly Decoded[]): unknown => {
  let row: Row | undefined = { message_id: 'm1', delivery: 'pending' };
  for (const e of events) {
    const next = reducer.apply(row, e);
    if (next !== undefined) row = next ?? undefined;
  }
  return row?.delivery;
};
const event = (type: string, data: Record<string, unknown>) => ({ type, data: { messageId: 'm1', ...data } }) as unknown as Decoded;
const delivered = event('MessageDelivered', { externalMessageIds: ['w1'], unconfirmedParts: 0 });
const status = (s: string) => event('MessageStatusReported', { externalMessageId: 'w1', status: s, errorCode: s === 'failed' ? 131026 : null });
const permutations = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));

describe('messages projection: the delivery column only moves forward', () => {
  it('a late `delivered` (or the send record) after `read` leaves the history at read', () => {
    expect(fold([delivered, status('read'), status('delivered')])).toBe('read');
    expect(fold([status('read'), delivered])).toBe('read');
    expect(fold([delivered, status('sent')])).toBe('delivered');
  });

  it('any arrival order of the same statuses gives the same column (replay and rebuild agree)', () => {
    for (const order of permutations([delivered, status('sent'), status('delivered'), status('read')])) expect(fold(order)).toBe('read');
    for (const order of permutations([delivered, status('delivered'), status('read'), status('failed')])) expect(fold(order)).toBe('failed');
  });

  it('failed is final: our own permanent failure, or a platform `failed`, is not hidden by a later status', () => {
    expect(fold([event('MessageDeliveryFailed', { reason: 'whatsapp_outside_window', retryable: false }), status('read')])).toBe('failed');
    expect(fold([event('MessageDeliveryFailed', { reason: 'telegram_unavailable', retryable: true })])).toBe('pending');
  });
});
