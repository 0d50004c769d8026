// Set-at-a-time statements over many tasks, for the hot paths of a busy farm: leasing a batch of
// tasks and accepting a batch of results each take a handful of statements, not a few per task.
import type { TaskStatus } from '../../core/states.js';
import type { JobKind } from '../../wire/jobs.js';
import { isPostgres } from '../dialect.js';
import { recordEndedAttempts } from './usage.js';
import type { Db, TaskAttemptsTable, TasksTable } from '../schema.js';
import { inLists, insertBatches } from '../statement-shapes.js';
import { placeholderRows, placeholders, runShaped } from '../shaped-sql.js';

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
        `update tasks set status = 'running', agent_id = v.column2, attempt = attempt + 1, tries = tries + 1, lease_expires_at = ?, started_at = ?, finished_at = null, exit_code = null, error = null, progress = null, message = null from (values ${placeholderRows(part.length, 2)}) as v where tasks.id = v.column1`,
      [f.expires, f.now, ...part.flatMap((l) => [l.taskId, l.agentId])],
    );
  }
}

const ATTEMPT_COLUMNS = ['task_id', 'attempt', 'agent_id', 'status', 'started_at', 'finished_at', 'exit_code', 'error', 'log_bytes'] as const satisfies readonly (keyof TaskAttemptsTable)[];

export async function insertAttempts(db: Db, rows: readonly TaskAttemptsTable[]): Promise<void> {
  for (const part of insertBatches(rows)) {
    await runShaped(
      db,
      `insertAttempts ${part.length}`,
      () => `insert into task_attempts (${ATTEMPT_COLUMNS.join(', ')}) values ${placeholderRows(part.length, ATTEMPT_COLUMNS.length)}`,
      part.flatMap((r) => ATTEMPT_COLUMNS.map((c) => r[c])),
    );
  }
}

export interface HeldTask {
  id: string;
  job_id: string;
  status: TaskStatus;
  agent_id: string | null;
  attempt: number;
  job_kind: JobKind;
}

/**
 * Tasks with what a completion checks (status, holder, attempt, the job's kind), locked on
 * PostgreSQL until commit in id order, so two batches never deadlock on each other's rows.
 */
export async function heldTasks(db: Db, ids: readonly string[]): Promise<HeldTask[]> {
  const rows: HeldTask[] = [];
  const sorted = [...ids].sort();
  for (const part of inLists(sorted)) {
    if (isPostgres(db)) await db.selectFrom('tasks').select('id').where('id', 'in', part).orderBy('id').forUpdate().execute();
    const found = await runShaped<HeldTask>(
      db,
      `heldTasks ${part.length}`,
      () => `select tasks.id, tasks.job_id, tasks.status, tasks.agent_id, tasks.attempt, jobs.kind as job_kind from tasks inner join jobs on jobs.id = tasks.job_id where tasks.id in (${placeholders(part.length)})`,
      part,
    );
    rows.push(...found.rows);
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
    await runShaped(
      db,
      `finishAttempts ${part.length}`,
      () => `update task_attempts set status = ?, finished_at = ?, exit_code = ?, error = ? where attempt = ? and task_id in (${placeholders(part.length)})`,
      [fields.status, fields.finished_at, fields.exit_code, fields.error, attempt, ...part],
    );
  }
  await recordEndedAttempts(db, taskIds, attempt);
}

/** Replaces the result files of many tasks at once. */
export async function replaceFilesOfTasks(db: Db, taskIds: readonly string[], files: readonly { task_id: string; path: string; sha256: string; size: number }[]): Promise<void> {
  for (const part of inLists(taskIds)) {
    await runShaped(db, `deleteTaskFiles ${part.length}`, () => `delete from task_files where task_id in (${placeholders(part.length)})`, part);
  }
  for (const part of insertBatches(files)) {
    await runShaped(
      db,
      `insertTaskFiles ${part.length}`,
      () => `insert into task_files (task_id, path, sha256, size) values ${placeholderRows(part.length, 4)}`,
      part.flatMap((f) => [f.task_id, f.path, f.sha256, f.size]),
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
      () => `update tasks set ${columns.map((c) => `${c} = ?`).join(', ')} where id in (${placeholders(part.length)})`,
      [...columns.map((c) => fields[c]), ...part],
    );
  }
}

/** Whether any of the job's tasks is in one of `statuses`: an indexed probe (job_id, status), O(1). */
export async function anyTaskIn(db: Db, jobId: string, statuses: readonly TaskStatus[]): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', [...statuses]).limit(1).executeTakeFirst();
  return row !== undefined;
}
