// What the coordinator knows of a kind of job, in one place: how a request becomes a job of steps
// and tasks, what a lease carries, what a completion must contain, what is kept when a task ends,
// and how the job is shown and downloaded. The agent's side of a kind is its ProgramFactory
// (src/agent/agent.ts); a new kind is a folder here and a program there.
import type { JobRow } from '../../store/repositories/jobs.js';
import type { TaskRow } from '../../store/repositories/tasks.js';
import type { Db } from '../../store/schema.js';
import type { UserPrincipal } from '../services/accounts.js';
import type { ServiceContext } from '../services/context.js';
import type { ResultFile } from '../services/completion.js';
import type { LeasedTask } from '../services/leasing.js';
import type { ResultsIndex } from '../services/results.js';
import type { JobView } from '../services/views.js';

/** A task as completions and lease expiry see it. */
export interface EndingTask {
  id: string;
  job_id: string;
  step: number;
}

/** How an attempt ended, as leasing decided it; a kind may settle it otherwise (see settleTask). */
export interface TaskEnding {
  status: 'done' | 'error';
  /** The error of a failed task, or the warning of a done one. */
  error: string | null;
  /** The result files the attempt reported (none when its lease expired). */
  files: readonly ResultFile[];
}

/** A step of a kind's jobs, as the step gate reads it. */
export interface JobStep {
  name: string;
  dependsOn: readonly number[];
  /**
   * Queued as soon as every task of the steps it depends on has started, rather than ended: its
   * tasks follow their output as it arrives (a render's preview encodes each frame as it is
   * recorded, so it is ready moments after the last one). Never set for OpenJD steps.
   */
  follows?: boolean;
}

export interface JobKindDefinition<Request = unknown> {
  /** Validates a request and stores the job with its tasks (a 400 naming the problem, nothing stored); returns its id. */
  create(ctx: ServiceContext, user: UserPrincipal, req: Request): Promise<string>;
  /**
   * The job's steps in order and what each depends on (the step gate keeps a step's tasks `pending`
   * until those are done); undefined for kinds whose tasks are all one step.
   */
  steps?(spec: unknown): readonly JobStep[];
  /** The step whose tasks make the job's `taskCount` and `counts` (render: the chunks); undefined: every task. */
  countedStep?: number;
  /** Fills in what a lease carries beyond the job's files and the task's spec (render: the frames still to render). */
  refineLease?(trx: Db, leased: LeasedTask, task: TaskRow): Promise<void>;
  /**
   * Successes need no check beyond the lease: dispatch stores them set at a time with other
   * agents' (its quick path). Otherwise each goes through completeTask.
   */
  quickCompletion: boolean;
  /** Why a reported success is not one (render: frames Blender did not save), or null. */
  successProblem?(trx: Db, task: EndingTask): Promise<string | null>;
  /** A done task that wrote no result file and printed nothing gets a warning (script jobs). */
  warnsWhenNothingProduced: boolean;
  /**
   * Runs when a task ends for good (done, or failed with no retry left), in the transaction that
   * ends it: keeps what the kind makes of it (render: the preview) and may settle it otherwise (a
   * preview that could not be made never fails a finished render).
   */
  settleTask?(trx: Db, task: EndingTask, ending: TaskEnding): Promise<TaskEnding>;
  /**
   * A person requeued this task (a done one too): forget what it delivered beyond its result files,
   * so its old output is never served as the new one (render: its frames, and the preview made of
   * them is made again).
   */
  forgetResults?(trx: Db, task: EndingTask): Promise<void>;
  /** Adds the kind's part to a job's detailed view (render: frames and preview; template: steps). */
  detail?(db: Db, row: JobRow, view: JobView): Promise<void>;
  /** The job's results index, when laid out otherwise than one folder per task. */
  resultsIndex?(ctx: ServiceContext, job: JobRow, tasks: readonly ResultTaskRow[], byTask: ReadonlyMap<string, ResultsIndex['tasks'][number]['files']>): Promise<ResultsIndex>;
}

/** A task row as results read it. */
export interface ResultTaskRow {
  id: string;
  idx: number;
  input_name: string;
  status: string;
  attempt: number;
  step: number;
  spec: string | null;
}
