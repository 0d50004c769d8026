// A job's status derived after its reports commit, not inside their transaction (PostgreSQL, jobs
// without steps). Deriving it inside locks the job's row until the commit so that replicas cannot
// both miss the last task (each seeing the other's as still running); every group of reports of a
// job then waited for the one before it to commit: with 8 agents on one job, that lock wait was the
// largest single cost of the dispatch bench on PostgreSQL. After the commit, a probe sees every
// report committed before it: of two groups ending a job's last tasks, the one committing last
// probes after both and finds nothing left, so one of them always derives the end. The probe takes
// no lock; only a job that looks finished is refreshed under its lock. A coordinator stopped
// between a commit and that refresh leaves a running job with nothing left to run: housekeeping
// settles such jobs when a coordinator starts and at each of its rounds.
import { sql } from 'kysely';
import { transact } from '../../store/group-commit.js';
import { type ServiceContext } from './context.js';
import { refreshJobStatus } from './jobs.js';

const UNFINISHED = ['pending', 'queued', 'running'] as const;

/**
 * For each job, after the transaction that ended some of its tasks committed: nothing when it is
 * running and has a task left (one indexed probe, no lock); otherwise its status refreshed under
 * its row lock. Returns the jobs whose status changed.
 */
export async function settleJobsAfterCommit(ctx: ServiceContext, jobIds: readonly string[]): Promise<string[]> {
  const changed: string[] = [];
  for (const jobId of jobIds) {
    const busy = await ctx.db
      .selectFrom('jobs')
      .select('id')
      .where('id', '=', jobId)
      .where('status', '=', 'running')
      .where(({ exists, selectFrom }) => exists(selectFrom('tasks').select(sql.lit(1).as('one')).where('job_id', '=', jobId).where('status', 'in', [...UNFINISHED])))
      .executeTakeFirst();
    if (busy) continue;
    if (await transact(ctx.db, (trx) => refreshJobStatus(trx, jobId))) changed.push(jobId);
  }
  return changed;
}

/** Running jobs with no task left to run (a coordinator stopped before settling them): refreshed. */
export async function settleStrandedJobs(ctx: ServiceContext): Promise<number> {
  const stranded = await ctx.db
    .selectFrom('jobs')
    .select('id')
    .where('status', '=', 'running')
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('tasks').select(sql.lit(1).as('one')).whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', 'in', [...UNFINISHED]))),
    )
    .limit(1000)
    .execute();
  const changed = await settleJobsAfterCommit(ctx, stranded.map((j) => j.id));
  for (const jobId of changed) ctx.bus.emit('job', jobId);
  return changed.length;
}
