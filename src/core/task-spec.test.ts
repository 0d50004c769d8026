import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskSpecError, formatTaskNumbers, parseTaskSpec } from './task-spec.js';

test('task selections: numbers and ranges, each task once, ascending', () => {
  assert.deepEqual(parseTaskSpec('3'), [3]);
  assert.deepEqual(parseTaskSpec('2,5-9'), [2, 5, 6, 7, 8, 9]);
  assert.deepEqual(parseTaskSpec(' 7, 1-2 ,2 '), [1, 2, 7]);
  assert.equal(formatTaskNumbers([1, 2, 3, 7, 9, 10]), '1-3, 7, 9-10');
});

test('task selections: bad ones are refused with what is wrong', () => {
  assert.throws(() => parseTaskSpec(''), TaskSpecError);
  assert.throws(() => parseTaskSpec('0'), /start at 1/);
  assert.throws(() => parseTaskSpec('9-5'), /backwards/);
  assert.throws(() => parseTaskSpec('a'), /not a task number/);
  assert.throws(() => parseTaskSpec('1-1000000'), /more than/);
});
