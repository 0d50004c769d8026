import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RangeExprError, parseRangeExpr } from './range-expr.js';

test('range expressions expand as the OpenJD spec tabulates them', () => {
  assert.deepEqual(parseRangeExpr('1 - 5'), [1, 2, 3, 4, 5]);
  assert.deepEqual(parseRangeExpr('1 - -1'), [1]);
  assert.deepEqual(parseRangeExpr('-1 - 1'), [-1, 0, 1]);
  assert.deepEqual(parseRangeExpr('1-5:2'), [1, 3, 5]);
  assert.deepEqual(parseRangeExpr('10-15:2,1-5'), [1, 2, 3, 4, 5, 10, 12, 14]);
  assert.deepEqual(parseRangeExpr('1-10:4'), [1, 5, 9]);
  assert.deepEqual(parseRangeExpr('7'), [7]);
  assert.deepEqual(parseRangeExpr('10-1:-3'), [1, 4, 7, 10]);
});

test('bad range expressions are refused with the reason', () => {
  assert.throws(() => parseRangeExpr('1-10:4,10-15'), /overlap at 10/);
  assert.throws(() => parseRangeExpr(''), /empty/);
  assert.throws(() => parseRangeExpr('1-x'), RangeExprError);
  assert.throws(() => parseRangeExpr('1-5:0'), /step of 0/);
  assert.throws(() => parseRangeExpr('1-1000', 100), /more than 100 values/);
});
