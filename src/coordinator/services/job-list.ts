// The job list (GET /jobs): a page of the jobs a user may see, each with its counts, why it waits
// and, for renders, its last finished frame.
import { unschedulableReason } from '../../core/scheduling.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as framesRepo from '../../store/repositories/frames.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { JobRow, JobSort } from '../../store/repositories/jobs.js';
import type { Static } from '@sinclair/typebox';
import type { JobList, JobListQuery } from '../../wire/index.js';
import { badRequest, forbidden } from '../errors.js';
import { countedSteps } from '../kinds/index.js';
import type { UserPrincipal } from './accounts.js';
import type { ServiceContext } from './context.js';
import { baseJobView, jobCounts, type JobCounts } from './views.js';
import { waitingReasons } from './waiting.js';

/** The jobs `user` asked for: their own, or anyone's for an admin (another's owner filter is refused). */
export async function listJobsFor(ctx: ServiceContext, user: UserPrincipal, q: Static<typeof JobListQuery>): Promise<JobList> {
  if (q.owner !== undefined && !user.admin && q.owner !== user.name) throw forbidden("only admins see other people's jobs");
  const before = q.createdBefore !== undefined ? new Date(q.createdBefore) : undefined;
  if (before && Number.isNaN(before.getTime())) throw badRequest(`createdBefore is not a time: "${q.createdBefore}"`);
  const { rows, total, countsByStatus } = await jobsRepo.listJobs(ctx.db, {
    userId: user.admin ? null : user.id,
    ...(q.status ? { status: q.status } : {}),
    ...(q.q ? { nameContains: q.q } : {}),
    ...(q.owner !== undefined ? { ownerName: q.owner } : {}),
    ...(q.archived ? { archived: true } : {}),
    ...(before ? { createdBefore: before.toISOString() } : {}),
    ...(q.sort ? { sort: q.sort as JobSort } : {}),
    ...(q.sort === 'progress' ? { countedSteps: countedSteps() } : {}),
    ...(q.order ? { order: q.order } : {}),
    offset: q.offset ?? 0,
    limit: q.limit ?? 50,
  });
  const counts = await jobCounts(ctx.db, rows);
  return { jobs: await listedJobViews(ctx, rows, counts), total, countsByStatus };
}

/**
 * The job list's rows: why each waiting job waits (one look at the agents for the page), and for
 * render jobs the last finished frame, whose thumbnail the list shows.
 */
async function listedJobViews(ctx: ServiceContext, rows: (JobRow & { owner: string })[], counts: Map<string, JobCounts>) {
  const waiting = (status: string) => status === 'queued' || status === 'running' || status === 'created';
  const capacities = rows.some((row) => waiting(row.status)) ? await agentsRepo.onlineAgentCapacities(ctx.db) : [];
  const lastFrames = new Map(
    await Promise.all(rows.filter((row) => row.kind === 'render').map(async (row) => [row.id, await framesRepo.lastFrame(ctx.db, row.id)] as const)),
  );
  const reasons = await waitingReasons(ctx.db, rows, counts, ctx.config.agentFailureLimit);
  return rows.map((row) => {
    const view = baseJobView(row, row.owner, counts.get(row.id)!);
    view.waiting = reasons.get(row.id) ?? null;
    if (waiting(row.status)) view.unschedulable = unschedulableReason(row.cores, capacities);
    const last = lastFrames.get(row.id);
    if (view.render && typeof view.render === 'object') {
      view.render = { ...view.render, lastFrame: last ? { frame: last.frame, thumbnail: last.thumb_sha, finishedAt: last.finished_at } : null };
    }
    return view;
  });
}
