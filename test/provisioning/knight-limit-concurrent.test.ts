import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSagaHarness } from './support.ts';
import type { SagaHarness } from './support.ts';

/** The free tier allows 1 knight at once: deploys sent together must not all pass the limit. */
describe('knights at once under concurrent deploys', () => {
  let h: SagaHarness;
  beforeAll(async () => {
    h = await startSagaHarness();
  });
  afterAll(() => h.close());

  it('three deploys at once on the free tier: one is accepted', async () => {
    const { me } = await h.tenant('free');
    const replies = await Promise.all([1, 2, 3].map((i) => me.post('/knights', { task: `Job ${i}` })));
    expect(replies.map((r) => r.status).sort()).toEqual([202, 403, 403]);
  });

  it('on the pro tier (5 at once), eight deploys sent together: five accepted, three refused with the limit', async () => {
    const { me } = await h.tenant('pro');
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => me.post<{ knightId: string }>('/knights', { task: `Job ${i}` })));
    const accepted = replies.filter((r) => r.status === 202);
    const refused = replies.filter((r) => r.status === 403);
    expect([accepted.length, refused.length]).toEqual([5, 3]);
    expect((refused[0]!.body as unknown as { code: string }).code).toBe('knight_limit_reached');
  });
});
