// What a farm running for months needs done on its own: finished jobs past the retention period
// archived or deleted, running jobs with nothing left to run settled (job-settling.ts), and blobs
// nothing refers to collected. Runs at start (resuming a collection a crash interrupted, and sweeping
// files the store's records lost) and then every interval.
import { collectBlobs } from './blob-collection.js';
import { type ServiceContext, nowIso } from './context.js';
import { removeJob } from './job-deletion.js';
import { settleStrandedJobs } from './job-settling.js';

/** Archives or deletes finished jobs older than the retention period; returns how many. */
export async function applyRetention(ctx: ServiceContext): Promise<number> {
  const days = ctx.config.retainFinishedDays;
  if (days === undefined) return 0;
  const cutoff = new Date(Date.now() - days * 86_400_000).toISOString();
  let q = ctx.db.selectFrom('jobs').select(['id', 'status']).where('status', 'in', ['done', 'error', 'canceled']).where('finished_at', '<', cutoff);
  if (ctx.config.retainAction === 'archive') q = q.where('archived_at', 'is', null);
  const due = await q.orderBy('finished_at').limit(1000).execute();
  for (const job of due) {
    if (ctx.config.retainAction === 'archive') {
      await ctx.db.updateTable('jobs').set({ archived_at: nowIso() }).where('id', '=', job.id).where('archived_at', 'is', null).execute();
      ctx.bus.emit('job', job.id);
    } else {
      // Another replica may be removing it at the same moment: its conflict is no failure.
      await removeJob(ctx, job.id, job.status).catch(() => undefined);
    }
  }
  if (due.length > 0) console.log(`[retention] ${ctx.config.retainAction === 'archive' ? 'archived' : 'deleted'} ${due.length} job(s) finished before ${cutoff}`);
  return due.length;
}

export function startHousekeeping(ctx: ServiceContext): { stop(): void } {
  let busy = false;
  const run = async (first: boolean) => {
    if (busy) return;
    busy = true;
    try {
      await applyRetention(ctx);
      await settleStrandedJobs(ctx);
      await collectBlobs(ctx, { sweepUnrecorded: first });
    } catch (err) {
      console.error(`[housekeeping] failed: ${(err as Error).message}`);
    } finally {
      busy = false;
    }
  };
  void run(true);
  const timer = setInterval(() => void run(false), ctx.config.collectIntervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
