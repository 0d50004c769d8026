// Set-at-a-time statements over many tasks, for the hot paths of a busy farm: leasing a batch of
// tasks and accepting a batch of results each take a handful of statements, not a few per task.
import { sql } from 'kysely';
import type { TaskStatus } from '../../core/states.js';
import { isPostgres } from '../dialect.js';
import type { Db, TaskAttemptsTable, TasksTable } from '../schema.js';
import { inLists, insertBatches } from '../statement-shapes.js';

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
    const pairs = sql.join(part.map((l) => sql`(${l.taskId}, ${l.agentId})`));
    await sql`update tasks set status = 'running', agent_id = v.column2, attempt = attempt + 1, tries = tries + 1, lease_expires_at = ${f.expires}, started_at = ${f.now}, finished_at = null, exit_code = null, error = null from (values ${pairs}) as v where tasks.id = v.column1`.execute(db);
  }
}

export async function insertAttempts(db: Db, rows: readonly TaskAttemptsTable[]): Promise<void> {
  for (const part of insertBatches(rows)) await db.insertInto('task_attempts').values(part).execute();
}

/**
 * Tasks with what a completion checks (status, holder, attempt, the job's kind), locked on
 * PostgreSQL until commit in id order, so two batches never deadlock on each other's rows.
 */
export async function heldTasks(db: Db, ids: readonly string[]) {
  const rows = [];
  const sorted = [...ids].sort();
  for (const part of inLists(sorted)) {
    if (isPostgres(db)) await db.selectFrom('tasks').select('id').where('id', 'in', part).orderBy('id').forUpdate().execute();
    rows.push(
      ...(await db
        .selectFrom('tasks')
        .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
        .select(['tasks.id', 'tasks.job_id', 'tasks.status', 'tasks.agent_id', 'tasks.attempt', 'jobs.kind as job_kind'])
        .where('tasks.id', 'in', part)
        .execute()),
    );
  }
  return rows;
}

/** Ends the given attempt of each task (all at the same attempt number) with one outcome. */
export async function finishAttempts(
  db: Db,
  taskIds: readonly string[],
  attempt: number,
  fields: Pick<TaskAttemptsTable, 'status' | 'finished_at' | 'exit_code' | 'error'>,
): Promise<void> {
  for (const part of inLists(taskIds)) {
    await db.updateTable('task_attempts').set(fields).where('task_id', 'in', part).where('attempt', '=', attempt).execute();
  }
}

/** Replaces the result files of many tasks at once. */
export async function replaceFilesOfTasks(db: Db, taskIds: readonly string[], files: readonly { task_id: string; path: string; sha256: string; size: number }[]): Promise<void> {
  for (const part of inLists(taskIds)) await db.deleteFrom('task_files').where('task_id', 'in', part).execute();
  for (const part of insertBatches(files)) await db.insertInto('task_files').values(part).execute();
}

export async function updateTasks(db: Db, ids: readonly string[], fields: Partial<TasksTable>): Promise<void> {
  for (const part of inLists(ids)) await db.updateTable('tasks').set(fields).where('id', 'in', part).execute();
}

/** Whether any of the job's tasks is in one of `statuses`: an indexed probe (job_id, status), O(1). */
export async function anyTaskIn(db: Db, jobId: string, statuses: readonly TaskStatus[]): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', [...statuses]).limit(1).executeTakeFirst();
  return row !== undefined;
}
