import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type JobTaskFacts, JOB_STATUSES, afterFailedAttempt, assertJobAction, decideJobStatus, deriveJobStatus, emptyCounts, factsOfCounts, StateError } from './states.js';

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

/** The status decided from facts read one at a time, as the coordinator probes them; and which it read. */
function probed(current: Parameters<typeof decideJobStatus>[0], all: Required<JobTaskFacts>) {
  const facts: JobTaskFacts = {};
  const read: (keyof JobTaskFacts)[] = [];
  for (;;) {
    const d = decideJobStatus(current, facts);
    if (d.status) return { status: d.status, read };
    assert.ok(!read.includes(d.needs), `asked twice for ${d.needs}`);
    read.push(d.needs);
    facts[d.needs] = all[d.needs];
  }
}

test('a running job with tasks left is decided by one probe; one that ended by two or three', () => {
  const all = (f: Partial<JobTaskFacts>) => ({ unfinished: false, failed: false, done: false, started: true, ...f });
  assert.deepEqual(probed('running', all({ unfinished: true })), { status: 'running', read: ['unfinished'] });
  assert.deepEqual(probed('running', all({ failed: true, done: true })), { status: 'error', read: ['unfinished', 'failed'] });
  assert.deepEqual(probed('running', all({ done: true })), { status: 'done', read: ['unfinished', 'failed', 'done'] });
  assert.deepEqual(probed('queued', all({ unfinished: true, started: false })), { status: 'queued', read: ['unfinished', 'started'] });
  assert.deepEqual(probed('canceled', all({})), { status: 'canceled', read: [] });
});

/** The rule as the README states it, from whole counts: the reference both ways of deciding must meet. */
function statusByCounts(current: (typeof JOB_STATUSES)[number], c: ReturnType<typeof emptyCounts>, started: boolean) {
  if (current === 'created' || current === 'canceled') return current;
  const total = c.pending + c.queued + c.running + c.done + c.error + c.canceled;
  if (c.pending + c.queued + c.running === 0) return total > 0 && c.done === total ? 'done' : 'error';
  return started ? 'running' : 'queued';
}

test('property: the status decided from probes, and from counts, is the rule stated on whole counts', () => {
  const countsArb = fc.record({
    pending: fc.nat(3),
    queued: fc.nat(3),
    running: fc.nat(3),
    done: fc.nat(3),
    error: fc.nat(3),
    canceled: fc.nat(3),
  });
  fc.assert(
    fc.property(fc.constantFrom(...JOB_STATUSES), countsArb, fc.boolean(), (current, c, startedBefore) => {
      // A task counted running, done or errored has started; one may have started and gone back to the queue.
      const started = startedBefore || c.running + c.done + c.error > 0;
      // A running job has started a task (the probes take that as known).
      fc.pre(current !== 'running' || started);
      const all = { ...(factsOfCounts(c, started) as Required<JobTaskFacts>) };
      const expected = statusByCounts(current, c, started);
      assert.equal(probed(current, all).status, expected);
      assert.equal(deriveJobStatus(current, c, started), expected);
    }),
  );
});
