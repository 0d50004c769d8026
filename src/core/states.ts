// Job and task states and the rules that move between them. Pure: no I/O, no clocks.

export const JOB_STATUSES = ['created', 'queued', 'running', 'done', 'error', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** `pending`: waiting for the steps its step depends on (template jobs), then `queued`. */
export const TASK_STATUSES = ['pending', 'queued', 'running', 'done', 'error', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type TaskCounts = Record<TaskStatus, number>;

export function emptyCounts(): TaskCounts {
  return { pending: 0, queued: 0, running: 0, done: 0, error: 0, canceled: 0 };
}

export function isTerminalJob(status: JobStatus): boolean {
  return status === 'done' || status === 'error' || status === 'canceled';
}

export function isTerminalTask(status: TaskStatus): boolean {
  return status === 'done' || status === 'error' || status === 'canceled';
}

/**
 * The status a started job has given its tasks' counts. A job is done when every task is done;
 * error when every task has ended and at least one did not finish; running once any task has
 * started; queued before that. `created` and `canceled` are set by people, never derived.
 */
export function deriveJobStatus(current: JobStatus, counts: TaskCounts, anyTaskStarted: boolean): JobStatus {
  if (current === 'created' || current === 'canceled') return current;
  const total = counts.pending + counts.queued + counts.running + counts.done + counts.error + counts.canceled;
  if (counts.pending + counts.queued + counts.running === 0) return total > 0 && counts.done === total ? 'done' : 'error';
  return anyTaskStarted ? 'running' : 'queued';
}

/** What happens to a task whose attempt ended without success. */
export type AttemptFailureOutcome = 'retry' | 'error';

export function afterFailedAttempt(triesUsed: number, maxAttempts: number): AttemptFailureOutcome {
  return triesUsed >= maxAttempts ? 'error' : 'retry';
}

export class StateError extends Error {}

/** Which people-facing actions a job in `status` allows. */
export function assertJobAction(action: 'start' | 'stop' | 'retry', status: JobStatus): void {
  const allowed: Record<typeof action, JobStatus[]> = {
    start: ['created'],
    stop: ['created', 'queued', 'running'],
    retry: ['error', 'canceled', 'running', 'queued', 'done'],
  };
  if (!allowed[action].includes(status)) {
    throw new StateError(`cannot ${action} a job that is ${status}`);
  }
}
