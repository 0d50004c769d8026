// Jobs: rows, listing with counts, and per-job task statistics.
import { sql } from 'kysely';
import { emptyCounts, type JobStatus, type TaskCounts } from '../../core/states.js';
import { isPostgres } from '../dialect.js';
import { readRows } from '../off-thread-reads.js';
import type { Db, HiddenJobStatus, JobsTable, StoredJobStatus } from '../schema.js';
import type { JobSortKey } from '../../wire/jobs.js';

export type JobRow = JobsTable;

/** Jobs half there: tasks still being inserted, or being deleted. Nobody sees them. */
export const HIDDEN_STATUSES: readonly HiddenJobStatus[] = ['inserting', 'deleting'];

/**
 * A job's status for those who only ask whether it has ended (agents told which jobs ended, jobs
 * waiting for it): a job half there has not ended, so it reads as one still at work.
 */
export function statusAsSeen(status: StoredJobStatus): JobStatus {
  return status === 'inserting' || status === 'deleting' ? 'running' : status;
}

export async function insertJob(db: Db, row: JobRow): Promise<void> {
  await db.insertInto('jobs').values(row).execute();
}

/** A job as its owner (or an admin, `userId` null) may see it; undefined otherwise. */
export function findJobFor(db: Db, id: string, userId: string | null) {
  // A job whose tasks are still being inserted (status `inserting`) is seen by no one yet, and one
  // being deleted (`deleting`) by no one any more.
  let q = db.selectFrom('jobs').selectAll().where('id', '=', id).where('status', 'not in', HIDDEN_STATUSES).$narrowType<{ status: JobStatus }>();
  if (userId !== null) q = q.where('user_id', '=', userId);
  return q.executeTakeFirst();
}

export function findJob(db: Db, id: string) {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The statuses of the given jobs (those that exist), in one query. */
export async function jobStatuses(db: Db, ids: readonly string[]): Promise<Map<string, JobStatus>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('jobs').select(['id', 'status']).where('id', 'in', [...ids]).execute();
  return new Map(rows.map((r) => [r.id, statusAsSeen(r.status)]));
}

/**
 * Inside a transaction on PostgreSQL, locks the job row until commit: two replicas finishing a job's
 * last two tasks at once must not both count the other's task as still running (the job would stay
 * running forever). SQLite runs one writer at a time: nothing to do.
 */
export async function lockJob(db: Db, id: string): Promise<void> {
  if (isPostgres(db)) await db.selectFrom('jobs').select('id').where('id', '=', id).forUpdate().execute();
}

export async function updateJob(db: Db, id: string, fields: Partial<JobRow>): Promise<void> {
  await db.updateTable('jobs').set(fields).where('id', '=', id).execute();
}

/** Columns the job list sorts by, and the column each one orders. */
export const JOB_SORTS = {
  name: 'jobs.name',
  kind: 'jobs.kind',
  status: 'jobs.status',
  owner: 'users.name',
  size: 'jobs.cores',
  tasks: 'jobs.task_count',
  submitted: 'jobs.created_at',
  started: 'jobs.started_at',
  finished: 'jobs.finished_at',
  // Worked out per row (see sortKey): the share of tasks done, and the time run so far.
  progress: null,
  duration: null,
} as const satisfies Record<JobSortKey, string | null>; // the keys the wire contract lets a request sort by
export type JobSort = keyof typeof JOB_SORTS;

export interface JobListQuery {
  userId: string | null;
  status?: JobStatus;
  nameContains?: string;
  /** Only the jobs of the user of this name (admins' filter). */
  ownerName?: string;
  /** Archived jobs only (true) or, by default, only those not archived. */
  archived?: boolean;
  /** Only jobs submitted before this time (ISO-8601). */
  createdBefore?: string;
  sort?: JobSort;
  order?: 'asc' | 'desc';
  offset: number;
  limit: number;
  /** Kinds whose progress counts the tasks of one step only (render: its chunks), by kind. */
  countedSteps?: Readonly<Record<string, number>>;
  /** The time unfinished jobs' durations run to (default: now). */
  now?: string;
}

/**
 * The value a computed sort orders by. Progress: the share of the job's (counted) tasks done, as
 * its progress bar shows it. Duration: from its start to its end, or to `now` while it runs (jobs
 * running now keep their order among themselves however time passes: they all grow alike); null
 * for a job not started, which sorts last either way.
 */
function sortKey(db: Db, sort: 'progress' | 'duration', q: JobListQuery) {
  if (sort === 'progress') {
    const steps = Object.entries(q.countedSteps ?? {});
    const stepRule = steps.length === 0 ? sql`1 = 1` : sql.join(steps.map(([kind, step]) => sql`(jobs.kind <> ${kind} or t.step = ${step})`), sql` and `);
    const done = sql`(select count(*) from tasks t where t.job_id = jobs.id and t.status = 'done' and ${stepRule})`;
    return sql<number>`(${done} * 1.0 / (case when jobs.task_count > 0 then jobs.task_count else 1 end))`;
  }
  const now = q.now ?? new Date().toISOString();
  // Whole milliseconds, so equal durations tie exactly (and go by submission).
  return isPostgres(db)
    ? sql<number | null>`round(extract(epoch from (coalesce(jobs.finished_at, ${now})::timestamptz - jobs.started_at::timestamptz)) * 1000)`
    : sql<number | null>`cast(round((julianday(coalesce(jobs.finished_at, ${now})) - julianday(jobs.started_at)) * 86400000) as integer)`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function listJobs(db: Db, q: JobListQuery) {
  let base = db.selectFrom('jobs').where('jobs.status', 'not in', HIDDEN_STATUSES);
  base = q.archived ? base.where('jobs.archived_at', 'is not', null) : base.where('jobs.archived_at', 'is', null);
  if (q.createdBefore !== undefined) base = base.where('jobs.created_at', '<', q.createdBefore);
  if (q.userId !== null) base = base.where('jobs.user_id', '=', q.userId);
  if (q.nameContains) base = base.where(sql<boolean>`lower(jobs.name) like ${'%' + escapeLike(q.nameContains.toLowerCase()) + '%'} escape '\\'`);
  if (q.ownerName !== undefined) base = base.where('jobs.user_id', 'in', db.selectFrom('users').select('id').where('name', '=', q.ownerName));
  const byStatus = await base.select(['jobs.status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('jobs.status').$narrowType<{ status: JobStatus }>().execute();
  let page = base;
  if (q.status) page = page.where('jobs.status', '=', q.status);
  const sorted = page.innerJoin('users', 'users.id', 'jobs.user_id').selectAll('jobs').select('users.name as owner').$narrowType<{ status: JobStatus }>();
  const order = q.order ?? 'desc';
  const bySort = () => {
    if (q.sort === 'progress' || q.sort === 'duration') {
      const key = sortKey(db, q.sort, q);
      // Nulls (not started) last in both orders and on both databases; ties by submission, then id.
      return sorted.orderBy(sql`(case when ${key} is null then 1 else 0 end)`).orderBy(key, order).orderBy('jobs.created_at', 'desc');
    }
    return q.sort && q.sort !== 'submitted' ? sorted.orderBy(JOB_SORTS[q.sort], order).orderBy('jobs.created_at', 'desc') : sorted.orderBy('jobs.created_at', order);
  };
  const rows = await bySort()
    .orderBy('jobs.id', order)
    .offset(q.offset)
    .limit(q.limit)
    .execute();
  const countsByStatus: Record<JobStatus | 'all', number> = { all: 0, created: 0, queued: 0, running: 0, done: 0, error: 0, canceled: 0 };
  for (const r of byStatus) {
    countsByStatus[r.status] = Number(r.n);
    countsByStatus.all += Number(r.n);
  }
  const total = q.status ? countsByStatus[q.status] : countsByStatus.all;
  return { rows, total, countsByStatus };
}

/** Task counts per state for each of `jobIds` (of their tasks in `step` only, when given). */
export async function taskCountsFor(db: Db, jobIds: readonly string[], step?: number, big = false): Promise<Map<string, TaskCounts>> {
  const result = new Map<string, TaskCounts>();
  for (const id of jobIds) result.set(id, emptyCounts());
  if (jobIds.length === 0) return result;
  const query = db
    .selectFrom('tasks')
    .select(['job_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('job_id', 'in', [...jobIds])
    .$if(step !== undefined, (qb) => qb.where('step', '=', step!))
    .groupBy(['job_id', 'status']);
  const rows = await readRows(db, query, big);
  for (const r of rows) result.get(r.job_id)![r.status] = Number(r.n);
  return result;
}

/**
 * Of each job's running tasks, how many have finished their work and are sending their results
 * (their agent said so: the attempt's status is `uploading`). Same step rule as taskCountsFor.
 */
export async function uploadingCountsFor(db: Db, jobIds: readonly string[], step?: number): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (jobIds.length === 0) return result;
  const rows = await db
    .selectFrom('tasks')
    .innerJoin('task_attempts', (join) => join.onRef('task_attempts.task_id', '=', 'tasks.id').onRef('task_attempts.attempt', '=', 'tasks.attempt'))
    .select(['tasks.job_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('tasks.job_id', 'in', [...jobIds])
    .where('tasks.status', '=', 'running')
    .where('task_attempts.status', '=', 'uploading')
    .$if(step !== undefined, (qb) => qb.where('tasks.step', '=', step!))
    .groupBy('tasks.job_id')
    .execute();
  for (const r of rows) result.set(r.job_id, Number(r.n));
  return result;
}

/** Task counts of each step of a job (template jobs), by step index. */
export async function stepCountsFor(db: Db, jobId: string, big = false): Promise<Map<number, TaskCounts>> {
  const query = db
    .selectFrom('tasks')
    .select(['step', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('job_id', '=', jobId)
    .groupBy(['step', 'status']);
  const rows = await readRows(db, query, big);
  const result = new Map<number, TaskCounts>();
  for (const r of rows) {
    const counts = result.get(r.step) ?? emptyCounts();
    counts[r.status] = Number(r.n);
    result.set(r.step, counts);
  }
  return result;
}

export interface JobTimingStats {
  /** Mean duration of the job's successful attempts, in ms, or null before the first. */
  meanDoneMs: number | null;
  /** Wall time summed over every finished attempt, in ms. */
  attemptMs: number;
}

export async function jobTimingStats(db: Db, jobId: string, big = false): Promise<JobTimingStats> {
  // Summed in the store: a finished million-task job would otherwise send a million rows here.
  // Each attempt's time is rounded to whole milliseconds, as its two ISO times give it.
  const ms = isPostgres(db)
    ? sql<number>`round(extract(epoch from (task_attempts.finished_at::timestamptz - task_attempts.started_at::timestamptz)) * 1000)`
    : sql<number>`round((julianday(task_attempts.finished_at) - julianday(task_attempts.started_at)) * 86400000)`;
  const query = db
    .selectFrom('task_attempts')
    .innerJoin('tasks', 'tasks.id', 'task_attempts.task_id')
    .select([
      sql<number | null>`sum(${ms})`.as('attemptMs'),
      sql<number | null>`sum(case when task_attempts.status = 'done' then ${ms} end)`.as('doneMs'),
      sql<number>`count(case when task_attempts.status = 'done' then 1 end)`.as('doneCount'),
    ])
    .where('tasks.job_id', '=', jobId)
    .where('task_attempts.finished_at', 'is not', null);
  const [row] = await readRows(db, query, big);
  const doneCount = Number(row?.doneCount ?? 0);
  return { meanDoneMs: doneCount ? Number(row!.doneMs) / doneCount : null, attemptMs: Number(row?.attemptMs ?? 0) };
}

/** The ids of a user's running jobs. */
export async function runningJobIdsOf(db: Db, userId: string): Promise<Set<string>> {
  const rows = await db.selectFrom('jobs').select('id').where('user_id', '=', userId).where('status', '=', 'running').execute();
  return new Set(rows.map((j) => j.id));
}
