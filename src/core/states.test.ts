import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterFailedAttempt, assertJobAction, deriveJobStatus, emptyCounts, StateError } from './states.js';

const counts = (c: Partial<ReturnType<typeof emptyCounts>>) => ({ ...emptyCounts(), ...c });

test('a job is done only when every task is done', () => {
  assert.equal(deriveJobStatus('running', counts({ done: 3 }), true), 'done');
  assert.equal(deriveJobStatus('running', counts({ done: 2, running: 1 }), true), 'running');
});

test('a job errors when every task has ended and one did not finish; siblings run to the end first', () => {
  assert.equal(deriveJobStatus('running', counts({ done: 2, error: 1, running: 1 }), true), 'running');
  assert.equal(deriveJobStatus('running', counts({ done: 2, error: 1 }), true), 'error');
});

test('a queued job turns running when a task starts, and created or canceled jobs are never derived', () => {
  assert.equal(deriveJobStatus('queued', counts({ queued: 3 }), false), 'queued');
  assert.equal(deriveJobStatus('queued', counts({ queued: 2, running: 1 }), true), 'running');
  assert.equal(deriveJobStatus('created', counts({ queued: 3 }), false), 'created');
  assert.equal(deriveJobStatus('canceled', counts({ done: 3 }), true), 'canceled');
});

test('a requeued job whose tasks all went back to the queue stays running', () => {
  assert.equal(deriveJobStatus('running', counts({ queued: 1 }), true), 'running');
});

test('a failed attempt is retried until the attempts are used up', () => {
  assert.equal(afterFailedAttempt(1, 3), 'retry');
  assert.equal(afterFailedAttempt(2, 3), 'retry');
  assert.equal(afterFailedAttempt(3, 3), 'error');
  assert.equal(afterFailedAttempt(1, 1), 'error');
});

test('people-facing actions are refused in states where they make no sense', () => {
  assert.doesNotThrow(() => assertJobAction('start', 'created'));
  assert.throws(() => assertJobAction('start', 'running'), StateError);
  assert.throws(() => assertJobAction('stop', 'done'), /cannot stop a job that is done/);
  assert.doesNotThrow(() => assertJobAction('stop', 'running'));
  assert.doesNotThrow(() => assertJobAction('retry', 'error'));
  assert.throws(() => assertJobAction('retry', 'created'), StateError);
});
