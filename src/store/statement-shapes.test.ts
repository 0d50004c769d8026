import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_LIST, inLists, insertBatches, shapeOf } from './statement-shapes.js';

describe('statement shapes', () => {
  it('rounds list lengths up to powers of two, at most MAX_LIST', () => {
    assert.deepEqual([1, 2, 3, 5, 33, 512, 513].map(shapeOf), [1, 2, 4, 8, 64, 512, 512]);
  });

  it('pads IN lists by repeating the last value, keeping every value once in order', () => {
    assert.deepEqual(inLists(['a', 'b', 'c']), [['a', 'b', 'c', 'c']]);
    assert.deepEqual(inLists([]), []);
    const many = Array.from({ length: MAX_LIST + 3 }, (_, i) => i);
    const lists = inLists(many);
    assert.deepEqual(lists.map((l) => l.length), [MAX_LIST, 4]);
    assert.deepEqual([...new Set(lists.flat())], many);
  });

  it('splits inserts into power-of-two batches that hold every row once, in order', () => {
    assert.deepEqual(insertBatches([1, 2, 3, 4, 5, 6, 7]).map((b) => b.length), [4, 2, 1]);
    assert.deepEqual(insertBatches([]), []);
    const rows = Array.from({ length: 2 * MAX_LIST + 37 }, (_, i) => i);
    const batches = insertBatches(rows);
    assert.deepEqual(batches.map((b) => b.length), [MAX_LIST, MAX_LIST, 32, 4, 1]);
    assert.deepEqual(batches.flat(), rows);
  });
});
