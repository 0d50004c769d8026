// What an ended attempt makes of its task: done, queued for another attempt, or error for good,
// with the error or warning it keeps. The one copy of the rule behind every way an attempt ends: a
// completion judged alone (services/completion.ts), successes stored with others' set at a time
// (services/dispatch.ts, its grouped path) and a lease that ran out (services/lease-expiry.ts).
// Pure: those services read what it needs and write what it decides.
import { afterFailedAttempt } from './states.js';
import { NO_RESULTS_WARNING, type TaskLeftovers, producedNothing } from './task-results.js';

/** What an agent reported of an attempt. */
export interface ReportedAttempt extends TaskLeftovers {
  error?: string;
  /** A success that left something out (a render's preview that could not be made): kept as the task's warning. */
  warning?: string;
}

/** What the task's job kind adds to judging a reported attempt. */
export interface KindJudgement {
  /** Why a reported success is not one (render: frames Blender did not save), as the kind found; null if none. */
  successProblem: string | null;
  /** A success that wrote no result file and printed nothing gets a warning (script jobs). */
  warnsWhenNothingProduced: boolean;
}

/** How the attempt itself ended, as its attempt row keeps it. */
export type AttemptVerdict =
  | { succeeded: true; attemptStatus: 'done'; attemptError: null; /** Kept on the done task where a failed one keeps its error. */ warning: string | null }
  | { succeeded: false; attemptStatus: 'error' | 'lost'; attemptError: string };

export type SucceededAttempt = Extract<AttemptVerdict, { succeeded: true }>;

/** What counts when deciding whether a failed attempt is retried (a success needs none of it). */
export interface RetryFacts {
  /** Attempts that count against `maxAttempts`, this one included: the task's `tries`. */
  countedAttempts: number;
  maxAttempts: number;
  /**
   * Different agents the task has failed on since a person last queued it, this failure included;
   * null when the failure counts against no agent.
   */
  failedOnAgents: number | null;
  /** Failures on this many different agents mean the task, not the agents, is broken. */
  agentFailureLimit: number;
}

/** What the task becomes. Queued: its agent and lease are cleared and it keeps no files of this attempt. */
export interface TaskOutcome {
  status: 'done' | 'queued' | 'error';
  /** The error of a failed or retried task, the warning of a done one, or null. */
  error: string | null;
}

/** What a success makes of its task. */
export type DoneTask = TaskOutcome & { status: 'done' };

/** The error an attempt whose lease ran out keeps. */
export const LEASE_EXPIRED_ERROR = 'the lease expired: the agent stopped answering';

/** Whether the agent reports a success (exit 0, no error): only then does the kind check it further. */
export function reportsSuccess(r: Pick<ReportedAttempt, 'exitCode' | 'error'>): boolean {
  return r.exitCode === 0 && !r.error;
}

/** A reported success with no warning of its own: dispatch may judge it with others, set at a time. */
export function plainSuccess(r: Pick<ReportedAttempt, 'exitCode' | 'error' | 'warning'>): boolean {
  return reportsSuccess(r) && !r.warning;
}

/** How a reported attempt ended, given what its kind found (see KindJudgement). */
export function judgeAttempt(r: ReportedAttempt, kind: KindJudgement): AttemptVerdict {
  if (!reportsSuccess(r)) return { succeeded: false, attemptStatus: 'error', attemptError: r.error ?? `the task exited with code ${r.exitCode}` };
  if (kind.successProblem) return { succeeded: false, attemptStatus: 'error', attemptError: kind.successProblem };
  const warning = r.warning ? r.warning : kind.warnsWhenNothingProduced && producedNothing(r) ? NO_RESULTS_WARNING : null;
  return { succeeded: true, attemptStatus: 'done', attemptError: null, warning };
}

/** An attempt whose agent stopped renewing its lease. */
export function expiredLease(): AttemptVerdict {
  return { succeeded: false, attemptStatus: 'lost', attemptError: LEASE_EXPIRED_ERROR };
}

/**
 * What the task becomes after the attempt: a success is done (with its warning); a failure is
 * retried while attempts are left, unless the task has now failed on `agentFailureLimit` different
 * agents (then the task is what is broken, and its error says so); otherwise it errors.
 */
export function taskOutcome(verdict: SucceededAttempt): DoneTask;
export function taskOutcome(verdict: AttemptVerdict, retry: RetryFacts): TaskOutcome;
export function taskOutcome(verdict: AttemptVerdict, retry?: RetryFacts): TaskOutcome {
  if (verdict.succeeded) return { status: 'done', error: verdict.warning };
  if (!retry) throw new Error('a failed attempt is judged with its retry facts');
  const failedOn = retry.failedOnAgents;
  if (failedOn !== null && failedOn >= retry.agentFailureLimit) return { status: 'error', error: `${verdict.attemptError}; it failed on ${failedOn} different agents` };
  return { status: afterFailedAttempt(retry.countedAttempts, retry.maxAttempts) === 'retry' ? 'queued' : 'error', error: verdict.attemptError };
}

/**
 * The attempt after which a task's attempts count (against its attempts allowance and for the
 * agents it failed on): a person's retry starts both afresh.
 */
export function lastUncountedAttempt(task: { attempt: number; tries: number }): number {
  return task.attempt - task.tries;
}
