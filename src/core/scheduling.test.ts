import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fitTasks, unschedulableReason } from './scheduling.js';

const task = (id: string, cores: number) => ({ taskId: id, cores });

test('tasks are taken in order while they fit the free cores', () => {
  assert.deepEqual(fitTasks(4, [task('a', 1), task('b', 2), task('c', 1), task('d', 1)]).map((t) => t.taskId), ['a', 'b', 'c']);
});

test('a task too big for what is left is skipped so smaller ones behind it still run', () => {
  assert.deepEqual(fitTasks(3, [task('a', 2), task('big', 4), task('b', 1)]).map((t) => t.taskId), ['a', 'b']);
});

test('no free cores, no tasks; maxTasks caps the batch', () => {
  assert.deepEqual(fitTasks(0, [task('a', 1)]), []);
  assert.equal(fitTasks(16, Array.from({ length: 10 }, (_, i) => task(String(i), 1)), 3).length, 3);
  // Prefetch: two tasks for a 2-core agent, each fitting it alone; a 4-core task never does.
  assert.deepEqual(fitTasks(4, [task('a', 2), task('big', 4), task('b', 2)], 2, 2).map((t) => t.taskId), ['a', 'b']);
});

test('property: the chosen tasks never ask for more cores than are free, and keep their order', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 64 }), fc.array(fc.integer({ min: 1, max: 16 }), { maxLength: 50 }), (free, sizes) => {
      const candidates = sizes.map((c, i) => task(String(i), c));
      const chosen = fitTasks(free, candidates);
      assert.ok(chosen.reduce((n, t) => n + t.cores, 0) <= free);
      const positions = chosen.map((t) => Number(t.taskId));
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    }),
  );
});

test('a job that no connected agent could ever fit says why', () => {
  assert.match(unschedulableReason(16, [{ name: 'a', slots: 2 }])!, /asks for 16 cores but the largest connected agent offers 2/);
  assert.match(unschedulableReason(1, [])!, /no agent is connected/);
  assert.equal(unschedulableReason(2, [{ name: 'a', slots: 1 }, { name: 'b', slots: 4 }]), null);
});
