// Leases that ran out: the agent died, or the network between it and the coordinator did. Each such
// attempt ends as lost, a failure like any other (core/completion-outcome.ts): the task is retried
// while attempts are left, and errors otherwise.
import { expiredLease } from '../../core/completion-outcome.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { endAttempt } from './completion.js';
import { type ServiceContext, nowIso } from './context.js';

/** Requeues (or errors) tasks whose agent stopped renewing the lease. Returns how many. */
export async function expireLeases(ctx: ServiceContext): Promise<number> {
  const now = nowIso();
  const expired = await tasksRepo.expiredLeases(ctx.db, now);
  for (const e of expired) {
    const changed = await ctx.db.transaction().execute(async (trx) => {
      await tasksRepo.lockTask(trx, e.id);
      const task = await tasksRepo.findTaskWithOwner(trx, e.id);
      if (!task || task.status !== 'running' || task.attempt !== e.attempt || !task.lease_expires_at || task.lease_expires_at >= now) return false;
      await endAttempt(ctx, trx, task, expiredLease(), null, now);
      return true;
    });
    if (changed) {
      ctx.bus.emit('task', e.id, e.job_id);
      ctx.bus.emit('job', e.job_id);
    }
  }
  if (expired.length > 0) ctx.bus.emit('work');
  return expired.length;
}
