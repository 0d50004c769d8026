// The preview task's frame fetching: in order, a bounded number ahead, failures heard where they belong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchedInOrder } from './preview-program.js';

test('frames are handed over in order with at most `ahead` more fetches started, and a failed fetch surfaces at its frame', async () => {
  const started: number[] = [];
  const releases = new Map<number, (path: string) => void>();
  const fetch = (n: number) => {
    started.push(n);
    return new Promise<string>((resolve) => releases.set(n, resolve));
  };
  const frames = fetchedInOrder([1, 2, 3, 4, 5, 6], fetch, 2);
  const first = frames.next();
  assert.deepEqual(started, [1, 2, 3], 'the first frame and two ahead');
  // Later frames arrive first: still handed over in order.
  releases.get(3)!('/c/3');
  releases.get(1)!('/c/1');
  assert.equal(await first.value, '/c/1');
  const second = frames.next();
  assert.deepEqual(started, [1, 2, 3, 4]);
  releases.get(2)!('/c/2');
  assert.equal(await second.value, '/c/2');
  assert.equal(await frames.next().value, '/c/3');
  assert.deepEqual(started, [1, 2, 3, 4, 5]);

  // A fetch that fails is heard when its frame is reached; stopping before it is no unhandled rejection.
  const failing = fetchedInOrder(['a', 'b'], (x) => (x === 'b' ? Promise.reject(new Error(`${x} could not be fetched`)) : Promise.resolve(`/c/${x}`)), 4);
  assert.equal(await failing.next().value, '/c/a');
  await assert.rejects(failing.next().value!, /b could not be fetched/);
  const abandoned = fetchedInOrder(['a', 'b'], (x) => (x === 'b' ? Promise.reject(new Error('never heard')) : Promise.resolve(`/c/${x}`)), 4);
  assert.equal(await abandoned.next().value, '/c/a');
  await new Promise((r) => setImmediate(r));
});
