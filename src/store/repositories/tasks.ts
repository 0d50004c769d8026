// Tasks, their attempts, leases and result files.
import { jobOrder } from '../../core/priority.js';
import type { TaskStatus } from '../../core/states.js';
import { isPostgres } from '../dialect.js';
import type { Db, TaskAttemptsTable, TasksTable } from '../schema.js';
import { readRows } from '../off-thread-reads.js';
import { columnsOf, runShaped } from '../shaped-sql.js';
import { inLists, insertBatches } from '../statement-shapes.js';
import { recordEndedAttempts } from './usage.js';

export type TaskRow = TasksTable;
export type AttemptRow = TaskAttemptsTable;

const INSERT_CHUNK = 500;

const TASK_COLUMNS = [
  'id', 'job_id', 'idx', 'status', 'input_name', 'input_sha', 'spec', 'attempt', 'tries', 'agent_id',
  'lease_expires_at', 'started_at', 'finished_at', 'exit_code', 'error', 'step', 'progress', 'message',
] as const satisfies readonly (keyof TasksTable)[];

/** What a task that never ran holds: new tasks leave these to the columns' defaults (0 or null). */
const UNSTARTED: Partial<TaskRow> = { attempt: 0, tries: 0, agent_id: null, lease_expires_at: null, started_at: null, finished_at: null, exit_code: null, error: null, progress: null, message: null };
const NEW_TASK_COLUMNS = TASK_COLUMNS.filter((c) => !(c in UNSTARTED));
const UNSTARTED_ENTRIES = Object.entries(UNSTARTED) as [keyof TaskRow, unknown][];
const isUnstarted = (r: TaskRow) => UNSTARTED_ENTRIES.every(([c, v]) => r[c] === v);

/**
 * A job's tasks, as shaped multi-row INSERTs (statement-shapes.ts): a 100,000-task job built
 * through Kysely's insert builder spent most of its submission building and compiling queries.
 * New tasks name only the columns they set (8 of 18): binding the other ten, all defaults, for
 * every row was a tenth of storing a 100,000-task template job.
 */
export async function insertTasks(db: Db, rows: readonly TaskRow[]): Promise<void> {
  for (const part of insertBatches(rows)) {
    const columns = part.every(isUnstarted) ? NEW_TASK_COLUMNS : TASK_COLUMNS;
    await runShaped(
      db,
      `insertTasks ${columns.length} ${part.length}`,
      () => db.insertInto('tasks').values(part.map((r) => columnsOf(r, columns))),
      rowParams(part, columns),
    );
  }
}

function rowParams(rows: readonly TaskRow[], columns: readonly (keyof TaskRow)[]): unknown[] {
  const params = new Array<unknown>(rows.length * columns.length);
  let k = 0;
  for (const r of rows) for (const c of columns) params[k++] = r[c];
  return params;
}

export function findTask(db: Db, id: string) {
  return db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A task with its job's owner, for access checks. */
export function findTaskWithOwner(db: Db, id: string) {
  return db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .selectAll('tasks')
    .select(['jobs.user_id', 'jobs.max_attempts', 'jobs.status as job_status', 'jobs.kind as job_kind'])
    .where('tasks.id', '=', id)
    .executeTakeFirst();
}

/** A job's tasks in index order (of one step only, with `step`). */
export function listTasks(db: Db, jobId: string, opts: { offset: number; limit: number; status?: TaskStatus; step?: number }, big = false) {
  let q = db
    .selectFrom('tasks')
    .leftJoin('agents', 'agents.id', 'tasks.agent_id')
    .selectAll('tasks')
    .select('agents.name as agent_name')
    .where('tasks.job_id', '=', jobId);
  if (opts.status) q = q.where('tasks.status', '=', opts.status);
  if (opts.step !== undefined) q = q.where('tasks.step', '=', opts.step);
  // A page deep into a huge job walks the index up to its offset: off the event loop (off-thread-reads.ts).
  return readRows(db, q.orderBy('tasks.idx').offset(opts.offset).limit(opts.limit), big && opts.offset > 10_000);
}

export async function countTasks(db: Db, jobId: string, status?: TaskStatus, step?: number, big = false): Promise<number> {
  let q = db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('job_id', '=', jobId);
  if (status) q = q.where('status', '=', status);
  if (step !== undefined) q = q.where('step', '=', step);
  const [row] = await readRows(db, q, big);
  return Number(row?.n ?? 0);
}

export async function anyTaskStarted(db: Db, jobId: string): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('attempt', '>', 0).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function updateTask(db: Db, id: string, fields: Partial<TaskRow>): Promise<void> {
  await db.updateTable('tasks').set(fields).where('id', '=', id).execute();
}

/** A job's tasks in one of `statuses`: their ids and latest attempts. */
export function tasksOfJobIn(db: Db, jobId: string, statuses: readonly TaskStatus[]) {
  return db.selectFrom('tasks').select(['id', 'attempt']).where('job_id', '=', jobId).where('status', 'in', [...statuses]).execute();
}

/** Sets `fields` on each of a job's tasks in one of `statuses`. */
export async function updateTasksOfJobIn(db: Db, jobId: string, statuses: readonly TaskStatus[], fields: Partial<TaskRow>): Promise<void> {
  await db.updateTable('tasks').set(fields).where('job_id', '=', jobId).where('status', 'in', [...statuses]).execute();
}

export function listAttempts(db: Db, taskId: string) {
  return db
    .selectFrom('task_attempts')
    .leftJoin('agents', 'agents.id', 'task_attempts.agent_id')
    .selectAll('task_attempts')
    .select('agents.name as agent_name')
    .where('task_id', '=', taskId)
    .orderBy('attempt')
    .execute();
}

export async function insertAttempt(db: Db, row: AttemptRow): Promise<void> {
  await db.insertInto('task_attempts').values(row).execute();
}

export async function finishAttempt(
  db: Db,
  taskId: string,
  attempt: number,
  fields: Pick<AttemptRow, 'status' | 'finished_at' | 'exit_code' | 'error'>,
): Promise<void> {
  await db.updateTable('task_attempts').set(fields).where('task_id', '=', taskId).where('attempt', '=', attempt).execute();
  // Every way an attempt ends passes here or through finishAttempts: the usage ledger is written with it.
  await recordEndedAttempts(db, [taskId], attempt);
}

/**
 * Marks a still-leased attempt as sending its results (only from `running`: never undoes an end).
 * Whether it changed: the first time only.
 */
export async function markAttemptUploading(db: Db, taskId: string, attempt: number): Promise<boolean> {
  const result = await db.updateTable('task_attempts').set({ status: 'uploading' }).where('task_id', '=', taskId).where('attempt', '=', attempt).where('status', '=', 'running').executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * What a lease reads of a queued task: the columns it passes on or decides by. The others are what
 * the lease sets (leasing.ts); reading all eighteen for a window of hundreds of rows per lease made
 * a JavaScript object of each value, a measurable part of the lease's time.
 */
const QUEUED_TASK_COLUMNS = ['tasks.id', 'tasks.idx', 'tasks.input_name', 'tasks.input_sha', 'tasks.spec', 'tasks.attempt', 'tasks.tries', 'tasks.step'] as const;
export type QueuedTask = Pick<TaskRow, 'id' | 'job_id' | 'status' | 'idx' | 'input_name' | 'input_sha' | 'spec' | 'attempt' | 'tries' | 'step'>;

/**
 * Queued tasks of started jobs, oldest job first, that fit at least one of the leasers (their free
 * cores are `freeCores`, one entry per agent asking together); with `blocked`, not those of jobs the
 * agent is blocklisted for (it failed `limit` of their attempts). The columns a lease needs
 * (QUEUED_TASK_COLUMNS).
 */
export async function queuedCandidates(
  db: Db,
  freeCores: readonly number[],
  limit: number,
  blocked?: { agentId: string; limit: number },
  /** Template jobs: steps none of the leasers may run (host requirements), left out of the window. */
  skipSteps?: (jobId: string) => Promise<number[]>,
  /** Jobs none of the leasers may run (their requirements: labels, GPUs, memory), left out of the window. */
  skipJob?: (requirements: string) => boolean,
  /** Cores limited users' tasks may still take (quotas): no more of their tasks than that are read. */
  userRoom?: ReadonlyMap<string, number>,
  /**
   * Requirements (their stored text) none of the leasers meets: jobs asking exactly these are left
   * out by the query itself, not read to be skipped by `skipJob` one by one.
   */
  unmetRequirements?: readonly string[],
) {
  const room = new Map(userRoom);
  const maxCores = Math.max(...freeCores);
  // Two steps, so each is an index walk that stops at `limit` rows: the eligible jobs in lease order
  // (few), then each job's queued tasks by index (tasks_job_status_idx). One query joining and
  // ordering across both tables sorted every queued task of the farm on every lease.
  let jobs = db
    .selectFrom('jobs')
    .select(['jobs.id', 'jobs.cores', 'jobs.kind', 'jobs.user_id', 'jobs.priority', 'jobs.queued_at', 'jobs.requirements'])
    .where('jobs.status', 'in', ['queued', 'running'])
    .where('jobs.held', '=', 0)
    .where('jobs.cores', '<=', maxCores);
  // A queue of 1,000 jobs waiting for machines these leasers are not (a GPU pool, more memory) was
  // sent whole to every lease; on PostgreSQL, reading it was most of what the queue cost a lease.
  if (unmetRequirements && unmetRequirements.length > 0) {
    const lists = inLists(unmetRequirements);
    jobs = jobs.where((eb) => eb.or([eb('jobs.requirements', 'is', null), eb.and(lists.map((list) => eb('jobs.requirements', 'not in', list)))]));
  }
  if (blocked) {
    jobs = jobs.where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('job_agent_failures')
            .select('job_agent_failures.job_id')
            .whereRef('job_agent_failures.job_id', '=', 'jobs.id')
            .where('job_agent_failures.agent_id', '=', blocked.agentId)
            .where('job_agent_failures.failures', '>=', blocked.limit),
        ),
      ),
    );
  }
  const out: (QueuedTask & { cores: number; user_id: string; priority: number; queued_at: string; requirements: string | null })[] = [];
  const eligible = await jobs.orderBy('jobs.priority', 'desc').orderBy('jobs.queued_at').orderBy('jobs.id').execute();
  // Priority first, then fair share between users at equal priority, then age (core/priority.ts):
  // what each user has running matters only when users share a priority level.
  const shared = sharedPriorityLevels(eligible);
  const ordered = shared ? jobOrder(eligible.map((j) => ({ ...j, userId: j.user_id, queuedAt: j.queued_at ?? '' })), await coresRunningByUser(db)) : eligible;
  for (const job of ordered) {
    if (out.length >= limit) break;
    // No more of a job's tasks than the leasers could take together (they all ask for job.cores).
    let fit = freeCores.reduce((n, free) => n + Math.floor(free / Math.max(1, job.cores)), 0);
    const userLeft = room.get(job.user_id);
    // A user at their cap or out of budget: their tasks would fill the window and be left untaken.
    if (userLeft !== undefined) fit = Math.min(fit, Math.floor(userLeft / Math.max(1, job.cores)));
    if (fit === 0) continue;
    // Else a queue of jobs waiting for other machines (a GPU pool) fills the window ahead of
    // everything these leasers can run, and they take nothing at all.
    if (job.requirements && skipJob?.(job.requirements)) continue;
    const skip = job.kind === 'template' && skipSteps ? await skipSteps(job.id) : [];
    const read = async (n: number, afterIdx: number): Promise<QueuedTask[]> => {
      const found = await runShaped(
        db,
        `queuedTasksOfJob ${skip.length}`,
        () =>
          db
            .selectFrom('tasks')
            .select(QUEUED_TASK_COLUMNS)
            .where('tasks.status', '=', 'queued')
            .where('tasks.job_id', '=', job.id)
            .where('tasks.idx', '>', afterIdx)
            .$if(skip.length > 0, (qb) => qb.where('tasks.step', 'not in', skip))
            .orderBy('tasks.idx')
            .limit(n)
            // PostgreSQL replicas lease at once: each takes the queued rows no one else holds, so no task is
            // leased twice and no leaser waits for another. Only task rows are locked, never their job.
            .$if(isPostgres(db), (qb) => qb.forUpdate().skipLocked()),
        ['queued', job.id, afterIdx, ...skip, n],
      );
      // The job and status are the query's own: set here, not read back for every row.
      for (const r of found.rows) Object.assign(r, { job_id: job.id, status: 'queued' });
      return found.rows as QueuedTask[];
    };
    const n = Math.min(limit - out.length, fit);
    let rows = await read(n, 0);
    // A task that failed may be left to another agent (services/agent-choice.ts): read as many
    // more behind it, so that the leasers still find what they may take.
    const retried = rows.filter((r) => r.tries > 0).length;
    if (retried > 0 && rows.length === n) rows = rows.concat(await read(retried, rows[rows.length - 1]!.idx));
    if (userLeft !== undefined) room.set(job.user_id, userLeft - rows.length * job.cores);
    // The rows are this read's own: given the job's fields in place rather than copied (a lease
    // window of hundreds of rows, every lease).
    for (const r of rows) out.push(Object.assign(r, { cores: job.cores, user_id: job.user_id, priority: job.priority, queued_at: job.queued_at ?? '', requirements: job.requirements }));
  }
  return out;
}

/** Whether two users' jobs share a priority level (only then does fair share reorder them). */
export function sharedPriorityLevels(jobs: readonly { user_id: string; priority: number }[]): boolean {
  const userOfLevel = new Map<number, string>();
  for (const j of jobs) {
    const user = userOfLevel.get(j.priority);
    if (user === undefined) userOfLevel.set(j.priority, j.user_id);
    else if (user !== j.user_id) return true;
  }
  return false;
}

/** Cores asked by each user's running tasks: fair share serves the user with the fewest first. */
export async function coresRunningByUser(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .select(['jobs.user_id', (eb) => eb.fn.sum<number>('jobs.cores').as('cores')])
    .where('tasks.status', '=', 'running')
    .groupBy('jobs.user_id')
    .execute();
  return new Map(rows.map((r) => [r.user_id, Number(r.cores)]));
}

/**
 * How many tasks of the farm could be leased now, counting no further than `cap`: queued tasks of
 * started jobs not held for their dependencies (a created job's tasks are stored queued, and a
 * 1,000-task job not yet started shrank every agent's prefetch share). An index walk of the queued
 * tasks, each joined to its job, stopping at `cap` counted.
 */
export async function countQueuedUpTo(db: Db, cap: number): Promise<number> {
  const row = await db
    .selectFrom(
      db
        .selectFrom('tasks')
        .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
        .select('tasks.id')
        .where('tasks.status', '=', 'queued')
        .where('jobs.status', 'in', ['queued', 'running'])
        .where('jobs.held', '=', 0)
        .limit(cap)
        .as('q'),
    )
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Inside a transaction on PostgreSQL, locks the task row until commit so that a completion, a
 * release and the lease-expiry checkers of several replicas never act on the same task at once
 * (the loser then re-reads the winner's outcome). SQLite runs one writer at a time: nothing to do.
 */
export async function lockTask(db: Db, id: string): Promise<void> {
  if (isPostgres(db)) await db.selectFrom('tasks').select('id').where('id', '=', id).forUpdate().execute();
}

export function expiredLeases(db: Db, now: string) {
  return db.selectFrom('tasks').select(['id', 'job_id', 'attempt', 'agent_id']).where('status', '=', 'running').where('lease_expires_at', '<', now).execute();
}

export async function replaceTaskFiles(db: Db, taskId: string, files: readonly { path: string; sha256: string; size: number }[]): Promise<void> {
  await db.deleteFrom('task_files').where('task_id', '=', taskId).execute();
  for (let i = 0; i < files.length; i += INSERT_CHUNK) {
    await db
      .insertInto('task_files')
      .values(files.slice(i, i + INSERT_CHUNK).map((f) => ({ task_id: taskId, ...f })))
      .execute();
  }
}

export function filesOfJob(db: Db, jobId: string) {
  return db
    .selectFrom('task_files')
    .innerJoin('tasks', 'tasks.id', 'task_files.task_id')
    .select(['task_files.task_id', 'task_files.path', 'task_files.sha256', 'task_files.size'])
    .where('tasks.job_id', '=', jobId)
    .orderBy('tasks.idx')
    .orderBy('task_files.path')
    .execute();
}

/** A task's result files (its stdout.txt and stderr.txt among them), by path. */
export function filesOfTask(db: Db, taskId: string) {
  return db.selectFrom('task_files').select(['path', 'sha256', 'size']).where('task_id', '=', taskId).orderBy('path').execute();
}

export async function jobHasFile(db: Db, jobId: string, sha256: string): Promise<boolean> {
  const row = await db
    .selectFrom('task_files')
    .innerJoin('tasks', 'tasks.id', 'task_files.task_id')
    .select('task_files.size')
    .where('tasks.job_id', '=', jobId)
    .where('task_files.sha256', '=', sha256)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Running tasks with the agent holding each, the cores each asks for (its job's) and its attempt's
 * status (`uploading` once its work is over and its results are on their way).
 */
export function runningTasksOfAgents(db: Db) {
  return db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .leftJoin('task_attempts', (join) => join.onRef('task_attempts.task_id', '=', 'tasks.id').onRef('task_attempts.attempt', '=', 'tasks.attempt'))
    .select(['tasks.id', 'tasks.job_id', 'tasks.idx', 'tasks.agent_id', 'jobs.cores', 'task_attempts.status as attempt_status'])
    .where('tasks.status', '=', 'running')
    .execute();
}

export function listTasksByIds(db: Db, ids: readonly string[]) {
  return db
    .selectFrom('tasks')
    .leftJoin('agents', 'agents.id', 'tasks.agent_id')
    .selectAll('tasks')
    .select('agents.name as agent_name')
    .where('tasks.id', 'in', [...ids])
    .execute();
}
