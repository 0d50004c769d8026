// The usage ledger (0018_usage_ledger): written when attempts end, read by `drover usage` and by
// quotas. Rows name the job and user as they were; nothing here cascades from jobs or users.
import { sql } from 'kysely';
import { splitByDay } from '../../core/usage.js';
import type { Db, UsageLedgerTable } from '../schema.js';
import { inLists, insertBatches } from '../statement-shapes.js';
import { runShaped } from '../shaped-sql.js';
import { isPostgres } from '../dialect.js';
import { insertUnnest, type PgColumn } from '../pg-batches.js';
import type { UsageSums } from '../../wire/usage.js';
import { jobRequirementsOf } from '../json-columns.js';

/** What the ledger needs of an ended attempt: the attempt, its job and the job's owner. */
export interface EndedAttempt {
  task_id: string;
  attempt: number;
  agent_id: string;
  status: string;
  started_at: string;
  finished_at: string;
  job_id: string;
  job_name: string;
  cores: number;
  requirements: string | null;
  user_id: string;
  user_name: string;
}

/**
 * Records the ended attempt `attempt` of each task: its duration (per UTC day) times the cores its
 * job's tasks hold and the GPUs they ask for. Called in the transaction that ends the attempts, so
 * the ledger and the attempts agree; a row already there (the same attempt ended twice) is kept.
 */
export async function recordEndedAttempts(db: Db, taskIds: readonly string[], attempt: number): Promise<void> {
  const ended: EndedAttempt[] = [];
  for (const part of inLists(taskIds)) {
    const rows = await db
      .selectFrom('task_attempts')
      .innerJoin('tasks', 'tasks.id', 'task_attempts.task_id')
      .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
      .innerJoin('users', 'users.id', 'jobs.user_id')
      .select([
        'task_attempts.task_id',
        'task_attempts.attempt',
        'task_attempts.agent_id',
        'task_attempts.status',
        'task_attempts.started_at',
        'task_attempts.finished_at',
        'jobs.id as job_id',
        'jobs.name as job_name',
        'jobs.cores',
        'jobs.requirements',
        'users.id as user_id',
        'users.name as user_name',
      ])
      .where('task_attempts.task_id', 'in', part)
      .where('task_attempts.attempt', '=', attempt)
      .where('task_attempts.finished_at', 'is not', null)
      .execute();
    for (const a of rows) ended.push({ ...a, finished_at: a.finished_at! });
  }
  await recordUsage(db, ended);
}

const PG_LEDGER_TYPES: Partial<Record<keyof UsageLedgerTable, PgColumn[1]>> = { attempt: 'integer', seconds: 'double precision', cores: 'integer', gpus: 'integer', core_seconds: 'double precision', gpu_seconds: 'double precision' };

const LEDGER_COLUMNS = [
  'task_id', 'attempt', 'day', 'job_id', 'job_name', 'user_id', 'user_name', 'agent_id', 'status', 'seconds', 'cores', 'gpus', 'core_seconds', 'gpu_seconds', 'ended_at',
] as const satisfies readonly (keyof UsageLedgerTable)[];

/** LEDGER_COLUMNS with their PostgreSQL types, in the same order. */
const PG_LEDGER_COLUMNS: readonly PgColumn[] = LEDGER_COLUMNS.map((c) => [c, PG_LEDGER_TYPES[c] ?? 'text'] as const);

/**
 * Records attempts whose facts the caller has already read (the agents' batch of successes reads
 * them with the tasks it checks): no read here, and one statement text per batch size. The rows go
 * straight into the statement's parameters, in LEDGER_COLUMNS order (a batch of 512 rows binds
 * 7,680: no row objects made first).
 */
export async function recordUsage(db: Db, ended: readonly EndedAttempt[]): Promise<void> {
  const rows: unknown[][] = [];
  // Most jobs ask for no GPUs, and a farm has few distinct requirement texts: each parsed once here.
  const gpusOf = new Map<string, number>();
  for (const a of ended) {
    let gpus = 0;
    if (a.requirements) {
      const known = gpusOf.get(a.requirements);
      if (known === undefined) gpusOf.set(a.requirements, (gpus = jobRequirementsOf(a)?.gpus ?? 0));
      else gpus = known;
    }
    for (const { day, seconds } of splitByDay(a.started_at, a.finished_at)) {
      // task_id, attempt, day, job_id, job_name, user_id, user_name, agent_id, status, seconds, cores, gpus, core_seconds, gpu_seconds, ended_at
      rows.push([a.task_id, a.attempt, day, a.job_id, a.job_name, a.user_id, a.user_name, a.agent_id, a.status, seconds, a.cores, gpus, seconds * a.cores, seconds * gpus, a.finished_at]);
    }
  }
  if (isPostgres(db)) return insertUnnest(db, 'usage_ledger', PG_LEDGER_COLUMNS, PG_LEDGER_COLUMNS.map((_, i) => rows.map((r) => r[i])), ['task_id', 'attempt', 'day']);
  for (const part of insertBatches(rows)) {
    // A loop, not part.flat(): V8's generic flat was most of this function's time.
    const params: unknown[] = [];
    for (const row of part) for (const value of row) params.push(value);
    await runShaped(
      db,
      `recordUsage ${part.length}`,
      () =>
        db
          .insertInto('usage_ledger')
          .values(part.map((r) => Object.fromEntries(LEDGER_COLUMNS.map((c, i) => [c, r[i]])) as unknown as UsageLedgerTable))
          .onConflict((oc) => oc.columns(['task_id', 'attempt', 'day']).doNothing()),
      params,
    );
  }
}

export interface UsageFilter {
  /** Only this user's rows (by id: a person's own usage). */
  userId?: string;
  /** Only rows of users of this name (an admin's `--user`). */
  userName?: string;
  /** First and last day, YYYY-MM-DD, both included. */
  since?: string;
  until?: string;
}

function filtered(db: Db, f: UsageFilter) {
  let q = db.selectFrom('usage_ledger');
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.userName !== undefined) q = q.where('user_name', '=', f.userName);
  if (f.since !== undefined) q = q.where('day', '>=', f.since);
  if (f.until !== undefined) q = q.where('day', '<=', f.until);
  return q;
}

export type { UsageSums };

const sums = [
  sql<number>`coalesce(sum(core_seconds), 0)`.as('core_seconds'),
  sql<number>`coalesce(sum(gpu_seconds), 0)`.as('gpu_seconds'),
  sql<number>`count(distinct job_id)`.as('jobs'),
  sql<number>`count(distinct task_id)`.as('tasks'),
  // An attempt over midnight has a row per day: count it once.
  sql<number>`count(distinct task_id || ':' || attempt)`.as('attempts'),
] as const;

const sumsOf = (r: { core_seconds: number; gpu_seconds: number; jobs: number; tasks: number; attempts: number }): UsageSums => ({
  coreSeconds: Number(r.core_seconds),
  gpuSeconds: Number(r.gpu_seconds),
  jobs: Number(r.jobs),
  tasks: Number(r.tasks),
  attempts: Number(r.attempts),
});

export async function usageByUser(db: Db, f: UsageFilter): Promise<({ user: string } & UsageSums)[]> {
  const rows = await filtered(db, f).select(['user_name', ...sums]).groupBy('user_name').orderBy('user_name').execute();
  return rows.map((r) => ({ user: r.user_name, ...sumsOf(r) }));
}

export async function usageByDay(db: Db, f: UsageFilter): Promise<({ day: string; user: string } & UsageSums)[]> {
  const rows = await filtered(db, f).select(['day', 'user_name', ...sums]).groupBy(['day', 'user_name']).orderBy('day').orderBy('user_name').execute();
  return rows.map((r) => ({ day: r.day, user: r.user_name, ...sumsOf(r) }));
}

/** Per job, most used first, at most `limit` jobs. */
export async function usageByJob(db: Db, f: UsageFilter, limit: number): Promise<({ jobId: string; name: string; user: string } & UsageSums)[]> {
  const rows = await filtered(db, f)
    .select(['job_id', sql<string>`max(job_name)`.as('job_name'), sql<string>`max(user_name)`.as('user_name'), ...sums])
    .groupBy('job_id')
    .orderBy('core_seconds', 'desc')
    .orderBy('job_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ jobId: r.job_id, name: r.job_name, user: r.user_name, ...sumsOf(r) }));
}

/** Core-seconds each of `userIds` used from `sinceDay` on, by attempts that ended. */
export async function coreSecondsSince(db: Db, userIds: readonly string[], sinceDay: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('usage_ledger')
    .select(['user_id', sql<number>`coalesce(sum(core_seconds), 0)`.as('core_seconds')])
    .where('user_id', 'in', [...userIds])
    .where('day', '>=', sinceDay)
    .groupBy('user_id')
    .execute();
  for (const r of rows) out.set(r.user_id, Number(r.core_seconds));
  return out;
}

/** Attempts still running for `userIds`: when each started and the cores it holds (its share of the month so far counts against a budget). */
export function runningAttemptsOf(db: Db, userIds: readonly string[]) {
  return db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .innerJoin('task_attempts', (join) => join.onRef('task_attempts.task_id', '=', 'tasks.id').onRef('task_attempts.attempt', '=', 'tasks.attempt'))
    .select(['jobs.user_id', 'jobs.cores', 'task_attempts.started_at', 'task_attempts.status'])
    .where('tasks.status', '=', 'running')
    .where('jobs.user_id', 'in', [...userIds])
    .execute();
}
