// Archiving: a finished job leaves the default lists, counts and dashboards but keeps everything
// (tasks, logs, results); unarchiving brings it back as it was.
import { isTerminalJob } from '../../core/states.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import { conflict } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';
import { jobFor } from './jobs.js';

export async function archiveJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  if (row.archived_at !== null) throw conflict(`job ${jobId} is archived already`);
  // A job still at work hidden from every list would be a job nobody watches.
  if (!isTerminalJob(row.status)) throw conflict(`cannot archive a job that is ${row.status}: stop it first or wait for its end`);
  await jobsRepo.updateJob(ctx.db, jobId, { archived_at: nowIso() });
  ctx.bus.emit('job', jobId);
}

export async function unarchiveJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  if (row.archived_at === null) throw conflict(`job ${jobId} is not archived`);
  await jobsRepo.updateJob(ctx.db, jobId, { archived_at: null });
  ctx.bus.emit('job', jobId);
}
