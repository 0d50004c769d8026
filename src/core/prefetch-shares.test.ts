import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type PrefetchAsk, prefetchShares, prefetches, queuedCountCap, startableNow } from './prefetch-shares.js';

const ask = (a: Partial<PrefetchAsk> & { slots?: number }): PrefetchAsk => ({ freeCores: 0, maxTasks: 0, prefetch: 0, holding: 0, ...a, agent: { slots: a.slots ?? 4 } });

test('an agent fills its hold up to its slots, one waiting and its share of the queue', () => {
  // 40 queued over 4 agents: a share of 10; a 4-slot agent running 4 may hold 4 + 1 + 10.
  assert.deepEqual(prefetchShares([ask({ prefetch: 100, holding: 4 })], 4, 40), [{ index: 0, tasks: 11 }]);
  // What it asks to start now is set aside first, and counts in its hold.
  assert.deepEqual(prefetchShares([ask({ freeCores: 2, maxTasks: 2, prefetch: 100, holding: 2 })], 4, 42), [{ index: 0, tasks: 11 }]);
  // Never more than it asks for.
  assert.deepEqual(prefetchShares([ask({ prefetch: 3, holding: 4 })], 4, 40), [{ index: 0, tasks: 3 }]);
});

test('as the queue drains every agent keeps a task running and one waiting, served in the order they asked', () => {
  const asks = [ask({ prefetch: 8, holding: 4 }), ask({ prefetch: 8, holding: 4 }), ask({ prefetch: 8, holding: 4 })];
  // Two queued among four agents: a share of 0, so each may hold its slots and one more; the third finds none left.
  assert.deepEqual(prefetchShares(asks, 4, 2), [
    { index: 0, tasks: 1 },
    { index: 1, tasks: 1 },
  ]);
  assert.deepEqual(prefetchShares(asks, 4, 0), []);
});

test('asks without prefetch and agents without slots get nothing; an absurd holding claim counts as a full hold', () => {
  assert.equal(prefetches(ask({ prefetch: 0 })), false);
  assert.equal(prefetches(ask({ prefetch: 5, slots: 0 })), false);
  assert.deepEqual(prefetchShares([ask({ prefetch: 5, slots: 0 }), ask({ prefetch: 0 })], 1, 50), []);
  // A claim of holding more than its slots and a full prefetch counts as that (4 + 100): a queue of
  // 100 on one agent leaves room for 4 + 1 + 100 held, so one more.
  assert.deepEqual(prefetchShares([ask({ prefetch: 5, holding: 1e9 })], 1, 100), [{ index: 0, tasks: 1 }]);
  assert.equal(startableNow(ask({ freeCores: 8, maxTasks: 3 })), 3);
  assert.equal(startableNow(ask({ freeCores: 0.5, maxTasks: 3 })), 0);
  // No agent online counts as one.
  assert.deepEqual(prefetchShares([ask({ prefetch: 100, holding: 4 })], 0, 10), [{ index: 0, tasks: 10 }]);
});

const askArb: fc.Arbitrary<PrefetchAsk> = fc.record({
  freeCores: fc.integer({ min: 0, max: 8 }),
  maxTasks: fc.integer({ min: 0, max: 8 }),
  prefetch: fc.integer({ min: 0, max: 100 }),
  holding: fc.integer({ min: 0, max: 20 }),
  agent: fc.record({ slots: fc.integer({ min: 0, max: 8 }) }),
});

test('property: counting the queue up to the cap grants what counting all of it would', () => {
  fc.assert(
    fc.property(fc.array(askArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2000 }), (asks, online, queued) => {
      const counted = Math.min(queued, queuedCountCap(asks, online));
      assert.deepEqual(prefetchShares(asks, online, counted), prefetchShares(asks, online, queued));
    }),
  );
});

test('property: shares never exceed what is asked, what is queued, or an agent\'s hold', () => {
  fc.assert(
    fc.property(fc.array(askArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2000 }), (asks, online, queued) => {
      const shares = prefetchShares(asks, online, queued);
      const left = queued - asks.reduce((n, a) => n + startableNow(a), 0);
      assert.ok(shares.reduce((n, s) => n + s.tasks, 0) <= Math.max(0, left));
      for (const [k, s] of shares.entries()) {
        const a = asks[s.index]!;
        assert.ok(prefetches(a) && s.tasks >= 1 && s.tasks <= a.prefetch!);
        assert.ok(Math.min(a.holding!, a.agent.slots + 100) + startableNow(a) + s.tasks <= a.agent.slots + 1 + Math.floor(left / Math.max(1, online)));
        if (k > 0) assert.ok(shares[k - 1]!.index < s.index);
      }
    }),
  );
});
