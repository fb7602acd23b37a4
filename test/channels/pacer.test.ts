import { describe, expect, it } from 'vitest';
import { createPacer } from '../../adapters/channels/pacer.ts';
import { fakeClock } from '../support/fake-clock.ts';

describe('pacer: messages per chat spaced by the interval', () => {
  it('lets the first message to a chat go at once and makes the next ones wait their turn', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock });
    await pacer.wait('chat-1');
    await pacer.wait('chat-1');
    await pacer.wait('chat-1');
    expect(time.sleeps).toEqual([1000, 1000]);
  });

  it('does not make one chat wait for another', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock });
    await pacer.wait('chat-1');
    await pacer.wait('chat-2');
    expect(time.sleeps).toEqual([]);
  });

  it('gives concurrent senders to one chat successive slots, in call order', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock });
    const slept: number[] = [];
    time.clock.sleep = async (ms) => void slept.push(ms); // the clock does not move: all three ask at the same instant
    await Promise.all([pacer.wait('chat'), pacer.wait('chat'), pacer.wait('chat')]);
    expect(slept).toEqual([1000, 2000]);
  });

  it('waits only for what is left of the interval when time has passed', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock });
    await pacer.wait('chat');
    time.advance(700);
    await pacer.wait('chat');
    time.advance(5000);
    await pacer.wait('chat');
    expect(time.sleeps).toEqual([300]);
  });

  it('holds a chat until the time a rate limit named', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock });
    await pacer.wait('chat');
    pacer.holdUntil('chat', time.now + 7000);
    await pacer.wait('chat');
    expect(time.sleeps).toEqual([7000]);
  });

  it('keeps at most maxKeys chats, forgetting those whose slot has passed first', async () => {
    const time = fakeClock();
    const pacer = createPacer({ intervalMs: 1000, clock: time.clock, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) {
      await pacer.wait(`chat-${i}`);
      time.advance(10);
    }
    expect(pacer.size).toBeLessThanOrEqual(100);
    time.sleeps.length = 0;
    await pacer.wait('chat-999'); // 10 ms ago: still remembered, so it waits
    expect(time.sleeps).toEqual([990]);
  });
});
