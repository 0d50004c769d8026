// Deleting a job: its tasks, attempts, logs, result records, frames and preview go, then the blobs
// nothing else refers to (blob-collection.ts). The job is hidden at once (status `deleting`) and
// its rows removed in batches; a coordinator restarted mid-way finishes the deletion.
import type { StoredJobStatus } from '../../store/schema.js';
import { conflict } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { collectBlobs } from './blob-collection.js';
import type { ServiceContext } from './context.js';
import { cancelDependentsOfDeleted } from './dependencies.js';
import { jobFor } from './jobs.js';
import { DELETING, deleteJobInBatches } from './large-jobs.js';

export async function deleteJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  // Agents hold its running tasks: stop it first, so no result arrives for a job that is gone.
  if (row.status === 'queued' || row.status === 'running') throw conflict(`cannot delete a job that is ${row.status}: stop it first (drover job stop ${jobId})`);
  await removeJob(ctx, jobId, row.status);
}

/** Removes a job whoever asks (people after their checks, retention), then collects what it freed. */
export async function removeJob(ctx: ServiceContext, jobId: string, expectedStatus: StoredJobStatus): Promise<void> {
  // Hidden in one step, and only from the state it was seen in (a start or a retry may come first).
  const hidden = await ctx.db.updateTable('jobs').set({ status: DELETING }).where('id', '=', jobId).where('status', '=', expectedStatus).executeTakeFirst();
  if (Number(hidden.numUpdatedRows) === 0) throw conflict(`job ${jobId} changed meanwhile; look again and retry`);
  ctx.bus.emit('job', jobId);
  if (expectedStatus !== 'done') await cancelDependentsOfDeleted(ctx, jobId);
  await deleteJobInBatches(ctx.db, jobId);
  scheduleCollection(ctx);
}

let scheduled: NodeJS.Timeout | null = null;

/** Collects soon, once for a burst of deletions (a bulk delete of a thousand jobs runs it once). */
export function scheduleCollection(ctx: ServiceContext): void {
  if (scheduled) return;
  scheduled = setTimeout(() => {
    scheduled = null;
    collectBlobs(ctx).catch((err: unknown) => console.error(`[collection] failed: ${(err as Error).message}`));
  }, 200);
  scheduled.unref();
}

