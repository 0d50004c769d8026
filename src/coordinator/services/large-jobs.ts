// Jobs of very many tasks (a render of a million frames, chunk 1) without stalling the coordinator.
// Inserting or canceling a million rows in one transaction held the event loop (SQLite answers
// synchronously) and the store for seconds: every other request waited. Here rows go in batches,
// each its own short transaction, with the event loop free between them. A job being inserted is
// hidden (status `inserting`) until its last task is in, so it still appears whole or not at all;
// one left half-inserted by a crash is removed at the next start.
import { sql } from 'kysely';
import type { JobRow } from '../../store/repositories/jobs.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { isPostgres } from '../../store/dialect.js';
import type { Db } from '../../store/schema.js';
import { badRequest, tooManyRequests } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import type { ServiceContext } from './context.js';

/** Jobs with more tasks than this are inserted in batches; smaller ones in one transaction as before. */
export const BATCHED_FROM_TASKS = 5000;
/** How long one batch may hold the store and the event loop; the batch size follows from it. */
const BATCH_MS = 8;

/**
 * Sizes batches so each takes about BATCH_MS on this machine and store: rows per batch grow while
 * batches are quick and shrink when one was slow (a checkpoint, a busy disk).
 */
class BatchSize {
  /** A few sizes only, which the 500-row insert chunks divide or fill: every other size would be one more
   * statement text, prepared and cached (a batch of 500 rows is a statement of 7,500 parameters). */
  private static readonly SIZES = [50, 100, 250, 500, 1000, 2000, 4000];
  rows = 250;
  adjust(rows: number, ms: number): void {
    const wanted = BATCH_MS / Math.max(ms / Math.max(1, rows), 1e-4);
    this.rows = BatchSize.SIZES.filter((n) => n <= wanted).pop() ?? BatchSize.SIZES[0]!;
  }
}

/**
 * SQLite: copies what the last batches wrote from the write-ahead log into the database now, a
 * little at a time, so that the automatic checkpoint (every 40 MB of log) never has to copy it all
 * at once in the middle of other requests.
 */
async function checkpointSoon(db: Db): Promise<void> {
  if (!isPostgres(db)) await sql`pragma wal_checkpoint(PASSIVE)`.execute(db);
}
/** The status of a job whose tasks are still being inserted: seen by no one. */
export const INSERTING = 'inserting';
/** A job being deleted: hidden at once, its rows removed in batches (a restart finishes the work). */
export const DELETING = 'deleting';

/** Lets every waiting request and timer run before the next batch. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Refuses a job of more tasks than the coordinator allows, naming the limit and how to change it. */
export function assertTaskLimit(ctx: ServiceContext, taskCount: number): void {
  const limit = ctx.config.maxTasksPerJob;
  if (taskCount > limit) {
    throw badRequest(`the job would have ${taskCount.toLocaleString('en-US')} tasks; this coordinator allows at most ${limit.toLocaleString('en-US')} per job (DROVER_MAX_TASKS_PER_JOB): use a larger chunk or split the job`);
  }
}

/**
 * Per-user job creation rate: a bucket of `perMinute` jobs that refills continuously. Admins are
 * not limited (they run the farm, and its benchmarks). Kept in memory, per replica.
 */
export class JobCreationRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(user: UserPrincipal): void {
    if (user.admin) return;
    const now = this.now();
    const b = this.buckets.get(user.id) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    if (b.tokens < 1) {
      const waitS = Math.ceil(((1 - b.tokens) / this.perMinute) * 60);
      throw tooManyRequests(`too many jobs created: at most ${this.perMinute} a minute per user (DROVER_JOB_CREATE_PER_MINUTE); try again in ${waitS} s`);
    }
    b.tokens -= 1;
    this.buckets.delete(user.id);
    this.buckets.set(user.id, b);
    // Bounded: the least recently active users go first (a full bucket is what they would get anyway).
    if (this.buckets.size > 100_000) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

const rates = new WeakMap<ServiceContext, JobCreationRate>();
export function jobCreationRate(ctx: ServiceContext): JobCreationRate {
  let rate = rates.get(ctx);
  if (!rate) rates.set(ctx, (rate = new JobCreationRate(ctx.config.jobCreatePerMinute)));
  return rate;
}

/**
 * Inserts `job` and its tasks in batches, taking `items` as they come (a million render chunks are
 * never all in memory): `rowOf` makes an item's task row and `afterBatch` stores what goes with a
 * batch (render frames). The job shows up, with `job.status` and its task count, once everything
 * is in; past the per-job task limit, or on any failure, it is removed again. Returns the count.
 */
export async function insertJobInBatches<T>(
  ctx: ServiceContext,
  job: JobRow,
  items: Iterable<T>,
  rowOf: (index: number, item: T) => tasksRepo.TaskRow,
  afterBatch?: (trx: Db, batch: readonly { row: tasksRepo.TaskRow; item: T }[]) => Promise<void>,
): Promise<number> {
  await jobsRepo.insertJob(ctx.db, { ...job, status: INSERTING });
  let count = 0;
  try {
    let batch: { row: tasksRepo.TaskRow; item: T }[] = [];
    const size = new BatchSize();
    let batches = 0;
    const flush = async () => {
      assertTaskLimit(ctx, count);
      const rows = batch;
      batch = [];
      const started = performance.now();
      await ctx.db.transaction().execute(async (trx) => {
        await tasksRepo.insertTasks(trx, rows.map((r) => r.row));
        await afterBatch?.(trx, rows);
      });
      size.adjust(rows.length, performance.now() - started);
      await yieldToEventLoop();
      if (++batches % 8 === 0) {
        await checkpointSoon(ctx.db);
        await yieldToEventLoop();
      }
    };
    for (const item of items) {
      batch.push({ row: rowOf(count, item), item });
      count++;
      if (batch.length >= size.rows) await flush();
    }
    if (batch.length > 0) await flush();
    await jobsRepo.updateJob(ctx.db, job.id, { status: job.status, task_count: job.task_count > 0 ? job.task_count : count });
    return count;
  } catch (err) {
    await deleteJobInBatches(ctx.db, job.id).catch(() => undefined);
    throw err;
  }
}

/** Deletes a job's tasks (their attempts, files and frames go with them) a batch at a time, then the job. */
export async function deleteJobInBatches(db: Db, jobId: string): Promise<void> {
  const size = new BatchSize();
  for (;;) {
    const started = performance.now();
    const ids = (await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).limit(size.rows).execute()).map((r) => r.id);
    if (ids.length === 0) break;
    await db.deleteFrom('frames').where('task_id', 'in', ids).execute();
    await db.deleteFrom('tasks').where('id', 'in', ids).execute();
    size.adjust(ids.length, performance.now() - started);
    await yieldToEventLoop();
  }
  await db.deleteFrom('jobs').where('id', '=', jobId).execute();
}

/**
 * Cancels a stopped job's queued tasks a batch at a time. The job itself is already canceled, so
 * none of them can be leased meanwhile. Returns how many were canceled.
 */
export async function cancelQueuedInBatches(ctx: ServiceContext, jobId: string, now: string, onBatch?: (ids: string[]) => void): Promise<number> {
  let canceled = 0;
  let batches = 0;
  const size = new BatchSize();
  for (;;) {
    const started = performance.now();
    const ids = (await ctx.db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', ['pending', 'queued']).limit(size.rows).execute()).map((r) => r.id);
    if (ids.length === 0) return canceled;
    await ctx.db
      .updateTable('tasks')
      .set({ status: 'canceled', finished_at: now, lease_expires_at: null, error: 'the job was stopped' })
      // By primary key alone: with `status = 'queued'` beside it SQLite walked the status index
      // over every queued task of the farm for each batch. (They are queued: the job is canceled,
      // so nothing leases them meanwhile.)
      .where('id', 'in', ids)
      .execute();
    canceled += ids.length;
    size.adjust(ids.length, performance.now() - started);
    onBatch?.(ids);
    await yieldToEventLoop();
    if (++batches % 8 === 0) await checkpointSoon(ctx.db);
  }
}

/**
 * At start: removes jobs left half-inserted by a crash, and cancels the queued tasks a crash left
 * behind in stopped jobs. On PostgreSQL another replica may be inserting right now, so only
 * inserts older than an hour count as abandoned.
 */
export async function repairInterruptedBatches(ctx: ServiceContext): Promise<void> {
  let abandoned = ctx.db.selectFrom('jobs').select('id').where('status', '=', INSERTING);
  if (isPostgres(ctx.db)) abandoned = abandoned.where('created_at', '<', new Date(Date.now() - 3600_000).toISOString());
  for (const { id } of await abandoned.execute()) {
    console.log(`[coordinator] removing job ${id}: its tasks were still being stored when the coordinator stopped`);
    await deleteJobInBatches(ctx.db, id);
  }
  // Deletions a crash interrupted: the job is hidden already; finish removing it.
  for (const { id } of await ctx.db.selectFrom('jobs').select('id').where('status', '=', DELETING).execute()) {
    console.log(`[coordinator] finishing the deletion of job ${id}`);
    await deleteJobInBatches(ctx.db, id);
  }
  const stopped = await ctx.db.selectFrom('jobs').select(['id', 'finished_at']).where('status', '=', 'canceled').where(({ exists, selectFrom }) => exists(selectFrom('tasks').select('tasks.id').whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', '=', 'queued'))).execute();
  for (const job of stopped) await cancelQueuedInBatches(ctx, job.id, job.finished_at ?? new Date().toISOString());
}
