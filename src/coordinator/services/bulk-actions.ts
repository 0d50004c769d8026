// One action on many jobs, each answered on its own: a job that cannot take it (not yours, in the
// wrong state) is reported and the others go on.
import type { JobAction } from '../../core/job-actions.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import { HttpError } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import type { ServiceContext } from './context.js';
import { archiveJob, unarchiveJob } from './job-archive.js';
import { deleteJob } from './job-deletion.js';
import { retryJob, startJob, stopJob } from './jobs.js';
import type { JobActionResult } from '../../wire/jobs.js';

/** Each job's outcome is part of the wire contract. */
export type { JobActionResult } from '../../wire/jobs.js';

type Run = (ctx: ServiceContext, user: UserPrincipal, jobId: string) => Promise<unknown>;

const RUNS: Record<JobAction, Run> = { start: startJob, stop: stopJob, retry: retryJob, archive: archiveJob, unarchive: unarchiveJob, delete: deleteJob };

export async function actOnJobs(ctx: ServiceContext, user: UserPrincipal, action: JobAction, ids: readonly string[]): Promise<JobActionResult[]> {
  const run = RUNS[action];
  const results: JobActionResult[] = [];
  for (const id of new Set(ids)) {
    let error: string | null = null;
    try {
      await run(ctx, user, id);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      error = err.message;
    }
    const row = await jobsRepo.findJobFor(ctx.db, id, user.admin ? null : user.id);
    const status = row ? row.status : error === null ? 'deleted' : null;
    results.push({ id, ok: error === null, status, archived: row ? row.archived_at !== null : false, error });
  }
  return results;
}
