import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomId, taskId } from './ids.js';

test("a job's task ids sort in index order and carry nothing but the job's id and the index", () => {
  const job = randomId('j');
  const indexes = [1, 2, 9, 10, 31, 32, 33, 1000, 70_000, 1_000_000];
  const ids = indexes.map((i) => taskId(job, i));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids[0], `t_${job.slice(2)}_000001`);
  assert.notEqual(taskId(randomId('j'), 1), ids[0]);
  for (const id of ids) assert.match(id, /^t_[0-9a-z]{12}_[0-9a-v]{6}$/);
});
