// Set-at-a-time statements over many tasks, for the hot paths of a busy farm: leasing a batch of
// tasks and accepting a batch of results each take a handful of statements, not a few per task.
import { type Compilable, sql } from 'kysely';
import type { TaskStatus } from '../../core/states.js';
import { isPostgres } from '../dialect.js';
import { type EndedAttempt, recordUsage } from './usage.js';
import type { Db, JobsTable, TaskAttemptsTable, TasksTable } from '../schema.js';
import { inLists, insertBatches } from '../statement-shapes.js';
import { columnsOf, runShaped } from '../shaped-sql.js';
import { deleteFilesOfTasks, insertUnnest, type PgColumn } from '../pg-batches.js';

/**
 * `(values (?, ?), …) as <alias>`: pairs as a table to join in an UPDATE … FROM. SQLite and
 * PostgreSQL alike name its columns column1 and column2.
 */
function pairsTable<A extends string>(pairs: readonly (readonly [string, string])[], alias: A) {
  return sql<{ column1: string; column2: string }>`(values ${sql.join(pairs.map((pair) => sql`(${sql.join(pair)})`))})`.as(alias);
}

// The parameters of the batch statements below, in the order of their placeholders, pushed in
// plain loops: flatMap made an array per row, thousands per batch, and was a visible share of the
// report+lease path's CPU.
function leaseParams(part: readonly { taskId: string; agentId: string }[], f: { expires: string; now: string }): unknown[] {
  const params: unknown[] = [f.expires, f.now];
  for (const l of part) params.push(l.taskId, l.agentId);
  return params;
}

/** In ATTEMPT_COLUMNS order. */
function attemptParams(part: readonly TaskAttemptsTable[]): unknown[] {
  const params: unknown[] = [];
  for (const r of part) params.push(r.task_id, r.attempt, r.agent_id, r.status, r.started_at, r.finished_at, r.exit_code, r.error, r.log_bytes);
  return params;
}

function fileParams(part: readonly { task_id: string; path: string; sha256: string; size: number }[]): unknown[] {
  const params: unknown[] = [];
  for (const f of part) params.push(f.task_id, f.path, f.sha256, f.size);
  return params;
}

/**
 * Leases queued tasks in one statement, each to its agent (a group of agents leases together): each
 * task's attempt and tries go up by one. The caller holds the rows (PostgreSQL: locked by the
 * candidate query; SQLite: one writer at a time). Each task meets its agent in a joined VALUES list
 * (UPDATE … FROM, on SQLite and PostgreSQL alike): a CASE over the list compared every row with
 * every branch, twice the cost at a few hundred tasks. The padding of the list repeats its last
 * pair, and a row joined twice is still updated once.
 */
export async function markLeased(db: Db, leases: readonly { taskId: string; agentId: string }[], f: { expires: string; now: string }): Promise<void> {
  for (const part of inLists(leases)) {
    await runShaped(
      db,
      `markLeased ${part.length}`,
      () =>
        db
          .updateTable('tasks')
          .from(pairsTable(part.map((l) => [l.taskId, l.agentId] as const), 'v'))
          .set((eb) => ({
            status: sql.lit<TaskStatus>('running'),
            agent_id: eb.ref('v.column2'),
            attempt: eb('attempt', '+', sql.lit(1)),
            tries: eb('tries', '+', sql.lit(1)),
            lease_expires_at: f.expires,
            started_at: f.now,
            finished_at: sql.lit(null),
            exit_code: sql.lit(null),
            error: sql.lit(null),
            progress: sql.lit(null),
            message: sql.lit(null),
          }))
          .whereRef('tasks.id', '=', 'v.column1'),
      leaseParams(part, f),
    );
  }
}

const ATTEMPT_COLUMNS = ['task_id', 'attempt', 'agent_id', 'status', 'started_at', 'finished_at', 'exit_code', 'error', 'log_bytes'] as const satisfies readonly (keyof TaskAttemptsTable)[];

const PG_ATTEMPT_COLUMNS: readonly PgColumn[] = [
  ['task_id', 'text'], ['attempt', 'integer'], ['agent_id', 'text'], ['status', 'text'], ['started_at', 'text'],
  ['finished_at', 'text'], ['exit_code', 'integer'], ['error', 'text'], ['log_bytes', 'bigint'],
];

export async function insertAttempts(db: Db, rows: readonly TaskAttemptsTable[]): Promise<void> {
  if (isPostgres(db)) return insertUnnest(db, 'task_attempts', PG_ATTEMPT_COLUMNS, PG_ATTEMPT_COLUMNS.map(([c]) => rows.map((r) => r[c as keyof TaskAttemptsTable])));
  for (const part of insertBatches(rows)) {
    await runShaped(
      db,
      `insertAttempts ${part.length}`,
      () => db.insertInto('task_attempts').values(part.map((r) => columnsOf(r, ATTEMPT_COLUMNS))),
      attemptParams(part),
    );
  }
}

export type HeldTask = Pick<TasksTable, 'id' | 'job_id' | 'status' | 'agent_id' | 'attempt'> & { job_kind: JobsTable['kind'] };

/**
 * Tasks with what a completion checks (status, holder, attempt, the job's kind), locked on
 * PostgreSQL until commit in id order, so two batches never deadlock on each other's rows.
 */
export function heldTasks(db: Db, ids: readonly string[]): Promise<HeldTask[]> {
  return lockedTaskRows(db, ids, 'heldTasks', (part) =>
    db
      .selectFrom('tasks')
      .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
      .select(['tasks.id', 'tasks.job_id', 'tasks.status', 'tasks.agent_id', 'tasks.attempt', 'jobs.kind as job_kind'])
      .where('tasks.id', 'in', part),
  );
}

/**
 * A read of the tasks `ids` in id-ordered parts of one shape each, locked on PostgreSQL (until
 * commit) by the read itself: `FOR UPDATE OF tasks` (never the joined job's row, which every report
 * of the job would then wait for), rows locked in id order. One round-trip, where a locking SELECT
 * followed by the read took two for every group of reports.
 */
async function lockedTaskRows<R>(db: Db, ids: readonly string[], shape: string, build: (part: string[]) => LockableRead<R>): Promise<R[]> {
  const rows: R[] = [];
  const lock = isPostgres(db);
  for (const part of inLists([...ids].sort())) {
    rows.push(...(await runShaped(db, `${shape} ${part.length}`, () => (lock ? build(part).orderBy('tasks.id').forUpdate(['tasks']) : build(part)), part)).rows);
  }
  return rows;
}

/** What lockedTaskRows needs of a read: ordering by the task's id and locking the task rows. */
interface LockableRead<R> extends Compilable<R> {
  orderBy(ref: 'tasks.id'): LockableRead<R>;
  forUpdate(of: ['tasks']): Compilable<R>;
}

/** A job as the end of its tasks' attempts needs it: its kind, and what the usage ledger records. */
export interface EndingJob {
  id: string;
  kind: JobsTable['kind'];
  name: string;
  cores: number;
  requirements: string | null;
  user_id: string;
  user_name: string;
}

/** A task whose attempt a batch of results may end: what `heldTasks` checks, its attempt's row, and its job. */
export type EndingTask = Pick<TasksTable, 'id' | 'job_id' | 'status' | 'agent_id' | 'attempt'> & {
  /** Null: no row for the task's current attempt. */
  attempt_agent_id: string | null;
  attempt_started_at: string | null;
  job: EndingJob;
};

/**
 * As `heldTasks` (locked alike on PostgreSQL), with each task's current attempt row and its job and
 * owner: what the usage ledger records when the attempts end, read with the rows being checked
 * rather than read back once they are ended. Jobs are read once each, not joined to every task (a
 * batch of hundreds of results is mostly of one job).
 */
export async function endingTasks(db: Db, ids: readonly string[]): Promise<EndingTask[]> {
  const rows = await lockedTaskRows(db, ids, 'endingTasks', (part) =>
    db
      .selectFrom('tasks')
      .leftJoin('task_attempts', (join) => join.onRef('task_attempts.task_id', '=', 'tasks.id').onRef('task_attempts.attempt', '=', 'tasks.attempt'))
      .select(['tasks.id', 'tasks.job_id', 'tasks.status', 'tasks.agent_id', 'tasks.attempt', 'task_attempts.agent_id as attempt_agent_id', 'task_attempts.started_at as attempt_started_at'])
      .where('tasks.id', 'in', part),
  );
  const jobs = new Map<string, EndingJob>();
  for (const part of inLists([...new Set(rows.map((r) => r.job_id))])) {
    const found = await runShaped(
      db,
      `endingJobs ${part.length}`,
      () =>
        db
          .selectFrom('jobs')
          .innerJoin('users', 'users.id', 'jobs.user_id')
          .select(['jobs.id', 'jobs.kind', 'jobs.name', 'jobs.cores', 'jobs.requirements', 'users.id as user_id', 'users.name as user_name'])
          .where('jobs.id', 'in', part),
      part,
    );
    for (const j of found.rows) jobs.set(j.id, j);
  }
  return rows.map((r) => Object.assign(r, { job: jobs.get(r.job_id)! }));
}

/**
 * Ends the given attempt of each task (all at the same attempt number) with one outcome, and records
 * it in the usage ledger from the tasks as `endingTasks` read them (an attempt without a row there
 * ends nothing and is recorded nowhere).
 */
export async function finishAttempts(
  db: Db,
  tasks: readonly EndingTask[],
  attempt: number,
  fields: Pick<TaskAttemptsTable, 'status' | 'finished_at' | 'exit_code' | 'error'> & { finished_at: string },
): Promise<void> {
  const taskIds = tasks.map((t) => t.id);
  for (const part of inLists(taskIds)) {
    await runShaped(
      db,
      `finishAttempts ${part.length}`,
      () =>
        db
          .updateTable('task_attempts')
          .set({ status: fields.status, finished_at: fields.finished_at, exit_code: fields.exit_code, error: fields.error })
          .where('attempt', '=', attempt)
          .where('task_id', 'in', part),
      [fields.status, fields.finished_at, fields.exit_code, fields.error, attempt, ...part],
    );
  }
  const ended: EndedAttempt[] = [];
  for (const t of tasks) {
    if (t.attempt_agent_id === null || t.attempt_started_at === null) continue;
    ended.push({
      task_id: t.id,
      attempt,
      agent_id: t.attempt_agent_id,
      status: fields.status,
      started_at: t.attempt_started_at,
      finished_at: fields.finished_at,
      job_id: t.job_id,
      job_name: t.job.name,
      cores: t.job.cores,
      requirements: t.job.requirements,
      user_id: t.job.user_id,
      user_name: t.job.user_name,
    });
  }
  await recordUsage(db, ended);
}

const PG_FILE_COLUMNS: readonly PgColumn[] = [['task_id', 'text'], ['path', 'text'], ['sha256', 'text'], ['size', 'bigint']];

/** Replaces the result files of many tasks at once. */
export async function replaceFilesOfTasks(db: Db, taskIds: readonly string[], files: readonly { task_id: string; path: string; sha256: string; size: number }[]): Promise<void> {
  if (isPostgres(db)) {
    await deleteFilesOfTasks(db, taskIds);
    return insertUnnest(db, 'task_files', PG_FILE_COLUMNS, [files.map((f) => f.task_id), files.map((f) => f.path), files.map((f) => f.sha256), files.map((f) => f.size)]);
  }
  for (const part of inLists(taskIds)) {
    await runShaped(db, `deleteTaskFiles ${part.length}`, () => db.deleteFrom('task_files').where('task_id', 'in', part), part);
  }
  for (const part of insertBatches(files)) {
    await runShaped(
      db,
      `insertTaskFiles ${part.length}`,
      () => db.insertInto('task_files').values(part.map((f) => ({ task_id: f.task_id, path: f.path, sha256: f.sha256, size: f.size }))),
      fileParams(part),
    );
  }
}

/** Sets the same fields on many tasks (the columns are the code's, never a caller's input). */
export async function updateTasks(db: Db, ids: readonly string[], fields: Partial<TasksTable>): Promise<void> {
  // As Kysely's set(): a field left undefined is not set.
  const columns = (Object.keys(fields) as (keyof TasksTable)[]).filter((c) => fields[c] !== undefined);
  for (const part of inLists(ids)) {
    await runShaped(
      db,
      `updateTasks ${columns.join(',')} ${part.length}`,
      () => db.updateTable('tasks').set(Object.fromEntries(columns.map((c) => [c, fields[c]]))).where('id', 'in', part),
      [...columns.map((c) => fields[c]), ...part],
    );
  }
}

/** Whether any of the job's tasks is in one of `statuses`: an indexed probe (job_id, status), O(1). */
export async function anyTaskIn(db: Db, jobId: string, statuses: readonly TaskStatus[]): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', [...statuses]).limit(1).executeTakeFirst();
  return row !== undefined;
}
