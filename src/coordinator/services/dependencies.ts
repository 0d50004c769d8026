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
    deps.push({ id, status: row.status as JobStatus });
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
    const changed = await ctx.db.transaction().execute(async (trx) => {
      await jobsRepo.lockJob(trx, held.id);
      const job = await jobsRepo.findJob(trx, held.id);
      if (!job || job.held !== 1 || (job.status !== 'created' && job.status !== 'queued')) return null;
      if (outcome.kind === 'release') {
        await jobsRepo.updateJob(trx, held.id, { held: 0 });
        return 'released';
      }
      const now = nowIso();
      const tasks = await trx.selectFrom('tasks').select('id').where('job_id', '=', held.id).where('status', 'in', ['pending', 'queued']).execute();
      await trx.updateTable('tasks').set({ status: 'canceled', finished_at: now, error: outcome.reason }).where('job_id', '=', held.id).where('status', 'in', ['pending', 'queued']).execute();
      await jobsRepo.updateJob(trx, held.id, { held: 0, status: 'canceled', finished_at: now });
      return tasks.map((t) => t.id);
    });
    if (changed === null) continue;
    if (changed === 'released') ctx.bus.emit('work');
    else for (const id of changed) ctx.bus.emit('task', id, held.id);
    ctx.bus.emit('job', held.id);
  }
}
