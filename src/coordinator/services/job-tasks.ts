// A job's tasks as its page lists them, and the files it made, for whoever may see the job.
import type { Static } from '@sinclair/typebox';
import * as framesRepo from '../../store/repositories/frames.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import { isBigJob } from '../../store/off-thread-reads.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { TaskListQuery, TaskPage } from '../../wire/index.js';
import { notFound } from '../errors.js';
import { kindOf } from '../kinds/index.js';
import type { ServiceContext } from './context.js';
import { taskView } from './views.js';

/** A page of the tasks the job's counts are of (render: the chunks; the preview task shows as render.previewTask). */
export async function taskPageOf(ctx: ServiceContext, job: JobRow, q: Static<typeof TaskListQuery>): Promise<TaskPage> {
  const step = kindOf(job.kind).countedStep;
  const big = isBigJob(job);
  const rows = await tasksRepo.listTasks(ctx.db, job.id, { offset: q.offset ?? 0, limit: q.limit ?? 100, ...(q.status ? { status: q.status } : {}), ...(step !== undefined ? { step } : {}) }, big);
  return { tasks: rows.map((t) => taskView(t, job.max_attempts)), total: await tasksRepo.countTasks(ctx.db, job.id, q.status, step, big) };
}

/** Refuses (404) a file the job did not make: a task's result or a frame, thumbnail or preview of it. */
export async function assertJobFile(ctx: ServiceContext, job: JobRow, sha256: string): Promise<void> {
  if (!(await tasksRepo.jobHasFile(ctx.db, job.id, sha256)) && !(await framesRepo.jobHasFrameFile(ctx.db, job.id, sha256))) throw notFound(`file ${sha256} of job ${job.id}`);
}
