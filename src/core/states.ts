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
 * What the store found of a job's tasks, as far as it looked. A fact left undefined was not looked
 * at: `decideJobStatus` names the one it needs next, so the hot path (every completion of a running
 * job) reads no more than an indexed LIMIT 1 probe or two instead of counting the job's tasks.
 */
export interface JobTaskFacts {
  /** Some task is pending, queued or running. */
  unfinished?: boolean;
  /** Some task errored or was canceled. */
  failed?: boolean;
  /** Some task is done. */
  done?: boolean;
  /** Some task has started (was leased at least once). Taken as true for a running job: a task's attempt never goes back to 0. */
  started?: boolean;
}

/** A job's status, or the fact about its tasks still needed to decide it. */
export type JobStatusDecision = { status: JobStatus; needs?: undefined } | { status?: undefined; needs: keyof JobTaskFacts };

/**
 * The status a job has given its tasks. A job is done when every task is done; error when every
 * task has ended and at least one did not finish; running once any task has started; queued before
 * that. `created` and `canceled` are set by people, never derived.
 */
export function decideJobStatus(current: JobStatus, tasks: JobTaskFacts): JobStatusDecision {
  if (current === 'created' || current === 'canceled') return { status: current };
  if (tasks.unfinished === undefined) return { needs: 'unfinished' };
  if (tasks.unfinished) {
    const started = tasks.started ?? (current === 'running' ? true : undefined);
    if (started === undefined) return { needs: 'started' };
    return { status: started ? 'running' : 'queued' };
  }
  if (tasks.failed === undefined) return { needs: 'failed' };
  if (tasks.failed) return { status: 'error' };
  if (tasks.done === undefined) return { needs: 'done' };
  return { status: tasks.done ? 'done' : 'error' };
}

/** What a job's task counts say of its tasks (`started` as far as the counts show it, unless given). */
export function factsOfCounts(counts: TaskCounts, started?: boolean): JobTaskFacts {
  return {
    unfinished: counts.pending + counts.queued + counts.running > 0,
    failed: counts.error + counts.canceled > 0,
    done: counts.done > 0,
    started: started ?? (counts.running + counts.done + counts.error > 0 ? true : undefined),
  };
}

/** The status a started job has given its tasks' counts (see decideJobStatus). */
export function deriveJobStatus(current: JobStatus, counts: TaskCounts, anyTaskStarted: boolean): JobStatus {
  return decideJobStatus(current, factsOfCounts(counts, anyTaskStarted)).status!;
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
