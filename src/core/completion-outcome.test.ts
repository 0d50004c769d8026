import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type KindJudgement,
  type ReportedAttempt,
  type RetryFacts,
  LEASE_EXPIRED_ERROR,
  expiredLease,
  judgeAttempt,
  lastUncountedAttempt,
  plainSuccess,
  reportsSuccess,
  taskOutcome,
} from './completion-outcome.js';
import { NO_RESULTS_WARNING } from './task-results.js';

const script: KindJudgement = { successProblem: null, warnsWhenNothingProduced: true };
const render: KindJudgement = { successProblem: null, warnsWhenNothingProduced: false };
const report = (r: Partial<ReportedAttempt>): ReportedAttempt => ({ exitCode: 0, resultFiles: 1, stdoutBytes: 10, ...r });
const retry = (r: Partial<RetryFacts>): RetryFacts => ({ countedAttempts: 1, maxAttempts: 3, failedOnAgents: 1, agentFailureLimit: 3, ...r });

/** What a success makes of its task (failing the test if the attempt was not judged a success). */
function doneTask(r: ReportedAttempt, kind: KindJudgement) {
  const verdict = judgeAttempt(r, kind);
  assert.ok(verdict.succeeded, `judged a failure: ${JSON.stringify(verdict)}`);
  assert.equal(verdict.attemptStatus, 'done');
  assert.equal(verdict.attemptError, null);
  return taskOutcome(verdict);
}

test('a success is done, keeping its own warning, or one when it left nothing and its kind warns of that', () => {
  assert.deepEqual(doneTask(report({}), script), { status: 'done', error: null });
  assert.deepEqual(doneTask(report({ resultFiles: 0, stdoutBytes: 0 }), script), { status: 'done', error: NO_RESULTS_WARNING });
  assert.deepEqual(doneTask(report({ resultFiles: 0, stdoutBytes: 3 }), script), { status: 'done', error: null });
  assert.deepEqual(doneTask(report({ resultFiles: 0, stdoutBytes: 0 }), render), { status: 'done', error: null });
  assert.deepEqual(doneTask(report({ warning: 'no preview', resultFiles: 0, stdoutBytes: 0 }), script), { status: 'done', error: 'no preview' });
});

test('a reported failure or a success its kind finds wanting fails the attempt with the reason', () => {
  assert.deepEqual(judgeAttempt(report({ exitCode: 2 }), script), { succeeded: false, attemptStatus: 'error', attemptError: 'the task exited with code 2' });
  assert.deepEqual(judgeAttempt(report({ exitCode: null, error: 'timed out' }), script), { succeeded: false, attemptStatus: 'error', attemptError: 'timed out' });
  assert.deepEqual(judgeAttempt(report({ exitCode: 0, error: 'upload failed' }), script), { succeeded: false, attemptStatus: 'error', attemptError: 'upload failed' });
  assert.deepEqual(judgeAttempt(report({}), { successProblem: 'frames 3-4 were not saved', warnsWhenNothingProduced: false }), {
    succeeded: false,
    attemptStatus: 'error',
    attemptError: 'frames 3-4 were not saved',
  });
  assert.deepEqual(expiredLease(), { succeeded: false, attemptStatus: 'lost', attemptError: LEASE_EXPIRED_ERROR });
});

test('a failure is retried while attempts are left, and errors for good once they are used up', () => {
  const failed = judgeAttempt(report({ exitCode: 1 }), script);
  assert.deepEqual(taskOutcome(failed, retry({ countedAttempts: 2, maxAttempts: 3 })), { status: 'queued', error: 'the task exited with code 1' });
  assert.deepEqual(taskOutcome(failed, retry({ countedAttempts: 3, maxAttempts: 3 })), { status: 'error', error: 'the task exited with code 1' });
  assert.deepEqual(taskOutcome(expiredLease(), retry({ countedAttempts: 1, maxAttempts: 1, failedOnAgents: null })), { status: 'error', error: LEASE_EXPIRED_ERROR });
});

test('a task that failed on as many different agents as the blocklist limit errors at once, saying so', () => {
  const failed = judgeAttempt(report({ exitCode: 1 }), script);
  assert.deepEqual(taskOutcome(failed, retry({ countedAttempts: 1, maxAttempts: 9, failedOnAgents: 3, agentFailureLimit: 3 })), {
    status: 'error',
    error: 'the task exited with code 1; it failed on 3 different agents',
  });
  assert.deepEqual(taskOutcome(failed, retry({ countedAttempts: 1, maxAttempts: 9, failedOnAgents: 2, agentFailureLimit: 3 })).status, 'queued');
});

test('only a reported success with no warning of its own is judged in a group; attempts count from a person\'s last retry', () => {
  assert.equal(plainSuccess({ exitCode: 0 }), true);
  assert.equal(plainSuccess({ exitCode: 0, warning: 'w' }), false);
  assert.equal(plainSuccess({ exitCode: 0, error: 'e' }), false);
  assert.equal(reportsSuccess({ exitCode: 0, warning: 'w' } as ReportedAttempt), true);
  assert.equal(reportsSuccess({ exitCode: null }), false);
  assert.equal(lastUncountedAttempt({ attempt: 7, tries: 2 }), 5);
});

const reportArb: fc.Arbitrary<ReportedAttempt> = fc.record(
  {
    exitCode: fc.constantFrom(0, 0, 1, 2, 137, null),
    error: fc.constantFrom('', 'killed', 'upload failed'),
    warning: fc.constantFrom('', 'no preview'),
    resultFiles: fc.integer({ min: 0, max: 3 }),
    stdoutBytes: fc.integer({ min: 0, max: 2 }),
  },
  { requiredKeys: ['exitCode', 'resultFiles', 'stdoutBytes'] },
);
const retryArb: fc.Arbitrary<RetryFacts> = fc.record({
  countedAttempts: fc.integer({ min: 1, max: 5 }),
  maxAttempts: fc.integer({ min: 1, max: 5 }),
  failedOnAgents: fc.option(fc.integer({ min: 0, max: 5 })),
  agentFailureLimit: fc.integer({ min: 1, max: 4 }),
});

test('property: a completion the grouped path (dispatch) takes ends as completeTask would end it', () => {
  fc.assert(
    fc.property(reportArb, fc.boolean(), retryArb, (r, warns, facts) => {
      fc.pre(plainSuccess(r));
      // As serveGroup feeds it: a kind of quick completion (no success check to read), no retry
      // facts (its rows carry no attempts allowance), and only what judges a success.
      const kind = { successProblem: null, warnsWhenNothingProduced: warns };
      const grouped = judgeAttempt(r, kind);
      assert.ok(grouped.succeeded, 'the grouped path takes every plain success of such a kind');
      const groupedTask = taskOutcome(grouped);
      // As completeTask feeds it: the same kind (whose check finds nothing: it has none), with the
      // task's attempts and the agents it failed on.
      const single = judgeAttempt(r, kind);
      const singleTask = taskOutcome(single, facts);
      assert.deepEqual(groupedTask, singleTask);
      assert.deepEqual(grouped, single);
      // What the grouped path writes as literals for every task it takes: an attempt done with exit
      // code 0 and no error, a task done with exit code 0.
      assert.equal(r.exitCode, 0);
      assert.equal(single.attemptStatus, 'done');
      assert.equal(single.attemptError, null);
      assert.equal(singleTask.status, 'done');
    }),
  );
});

test('property: done exactly when a reported success passes its kind; a failure retried exactly while attempts and agents are left', () => {
  fc.assert(
    fc.property(reportArb, fc.boolean(), fc.option(fc.constant('frame 2 missing')), retryArb, (r, warns, problem, facts) => {
      const verdict = judgeAttempt(r, { successProblem: reportsSuccess(r) ? problem : null, warnsWhenNothingProduced: warns });
      const outcome = taskOutcome(verdict, facts);
      assert.equal(outcome.status === 'done', reportsSuccess(r) && problem === null);
      if (verdict.succeeded) {
        assert.equal(outcome.error, r.warning ? r.warning : warns && r.resultFiles === 0 && r.stdoutBytes === 0 ? NO_RESULTS_WARNING : null);
        return;
      }
      const brokenTask = facts.failedOnAgents !== null && facts.failedOnAgents >= facts.agentFailureLimit;
      assert.equal(outcome.status === 'queued', !brokenTask && facts.countedAttempts < facts.maxAttempts);
      assert.ok(outcome.error!.startsWith(verdict.attemptError));
      assert.equal(outcome.error!.endsWith('different agents'), brokenTask);
    }),
  );
});
