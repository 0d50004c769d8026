// Job dependencies (`--after JOB[,JOB…]`, `--after-any`): checked when a job is created, and
// advanced by the coordinator's periodic check (core/dependencies.ts decides).
import { dependencyOutcome } from '../../core/dependencies.js';
import type { JobStatus } from '../../core/states.js';
import * as dependenciesRepo from '../../store/repositories/dependencies.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { Db } from '../../store/schema.js';
import { badRequest } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';

export const MAX_AFTER = 100;

/**
 * The jobs a new job of `user` waits for, checked: each exists and is one `user` may see (its own,
 * or any for an admin); under `--after` none has already failed. Whether the new job starts held.
 */
export async function checkAfter(ctx: ServiceContext, user: UserPrincipal, after: readonly string[] | undefined, any: boolean): Promise<{ ids: string[]; held: boolean }> {
  const ids = [...new Set((after ?? []).map((id) => id.trim()).filter((id) => id.length > 0))];
  if (ids.length === 0) return { ids, held: false };
  if (ids.length > MAX_AFTER) throw badRequest(`a job can wait for at most ${MAX_AFTER} jobs (--after names ${ids.length})`);
  const deps: { id: string; status: JobStatus }[] = [];
  for (const id of ids) {
    const row = await jobsRepo.findJobFor(ctx.db, id, user.admin ? null : user.id);
    if (!row) throw badRequest(`--after: job ${id} does not exist or is not yours`);
    deps.push({ id, status: row.status });
  }
  const outcome = dependencyOutcome(any, deps);
  if (outcome.kind === 'cancel') throw badRequest(`--after: ${outcome.reason.replace(', which it waits for (--after),', '')}; it can never be done (--after-any waits for jobs to end whatever their state)`);
  return { ids, held: outcome.kind === 'wait' };
}

export async function insertDependencies(db: Db, jobId: string, ids: readonly string[]): Promise<void> {
  await dependenciesRepo.insertDependencies(db, jobId, ids);
}

/**
 * The periodic check: held jobs whose dependencies ended are released (their tasks offered to
 * agents) or canceled with the reason. A cancel releases its own dependents at the next check.
 */
export async function advanceHeldJobs(ctx: ServiceContext): Promise<void> {
  for (const held of await dependenciesRepo.heldJobs(ctx.db)) {
    const outcome = dependencyOutcome(held.after_any === 1, await dependenciesRepo.dependenciesOf(ctx.db, held.id));
    if (outcome.kind === 'wait') continue;
    if (outcome.kind === 'release') await releaseHeld(ctx, held.id);
    else await cancelHeld(ctx, held.id, outcome.reason);
  }
}

/**
 * A job about to be deleted that was never done: the jobs waiting for it under `--after` can never
 * run, so they are canceled with the reason (left alone, the dependency row's cascade would release
 * them). Under `--after-any` a deleted job counts as ended, which the next check sees.
 */
export async function cancelDependentsOfDeleted(ctx: ServiceContext, jobId: string): Promise<void> {
  for (const id of await dependenciesRepo.strictDependents(ctx.db, jobId)) {
    await cancelHeld(ctx, id, `job ${jobId}, which it waits for (--after), was deleted before it was done`);
  }
}

/** A held job, still held and not ended, offered to agents. */
async function releaseHeld(ctx: ServiceContext, jobId: string): Promise<void> {
  const released = await ctx.db.transaction().execute(async (trx) => {
    if (!(await stillHeld(trx, jobId))) return false;
    await jobsRepo.updateJob(trx, jobId, { held: 0 });
    return true;
  });
  if (!released) return;
  ctx.bus.emit('work');
  ctx.bus.emit('job', jobId);
}

/** A held job, still held and not ended, canceled: its tasks carry the reason. */
async function cancelHeld(ctx: ServiceContext, jobId: string, reason: string): Promise<void> {
  const canceled = await ctx.db.transaction().execute(async (trx) => {
    if (!(await stillHeld(trx, jobId))) return null;
    const now = nowIso();
    const tasks = await trx.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', ['pending', 'queued']).execute();
    await trx.updateTable('tasks').set({ status: 'canceled', finished_at: now, error: reason }).where('job_id', '=', jobId).where('status', 'in', ['pending', 'queued']).execute();
    await jobsRepo.updateJob(trx, jobId, { held: 0, status: 'canceled', finished_at: now });
    return tasks.map((t) => t.id);
  });
  if (canceled === null) return;
  for (const id of canceled) ctx.bus.emit('task', id, jobId);
  ctx.bus.emit('job', jobId);
}

async function stillHeld(trx: Db, jobId: string): Promise<boolean> {
  await jobsRepo.lockJob(trx, jobId);
  const job = await jobsRepo.findJob(trx, jobId);
  return !!job && job.held === 1 && (job.status === 'created' || job.status === 'queued');
}
