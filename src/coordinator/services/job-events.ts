// What a job's live event stream (GET /jobs/:id/events) reads as the job changes: the views of the
// tasks that changed and of the job itself, as the job page shows them.
import { isTerminalJob, type JobStatus } from '../../core/states.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as usersRepo from '../../store/repositories/users.js';
import type { JobView, TaskView } from '../../wire/index.js';
import { kindOf } from '../kinds/index.js';
import type { ServiceContext } from './context.js';
import { detailedJobView, taskView } from './views.js';

/** The name of the job's owner, as its views show it. */
export async function ownerNameOf(ctx: ServiceContext, job: JobRow): Promise<string> {
  return (await usersRepo.findUserById(ctx.db, job.user_id))?.name ?? '?';
}

/**
 * The views of these tasks of the job that its task list shows (GET /jobs/:id/tasks: the render
 * preview's task is shown in the job view instead). One query per 500 tasks, under the database's
 * parameter limit.
 */
export async function listedTaskViews(ctx: ServiceContext, job: JobRow, taskIds: readonly string[]): Promise<TaskView[]> {
  const countedStep = kindOf(job.kind).countedStep;
  const views: TaskView[] = [];
  for (let i = 0; i < taskIds.length; i += 500) {
    for (const t of await tasksRepo.listTasksByIds(ctx.db, taskIds.slice(i, i + 500))) if (countedStep === undefined || t.step === countedStep) views.push(taskView(t, job.max_attempts));
  }
  return views;
}

/** The job's view now, or null once it is gone (deleted). */
export async function currentJobView(ctx: ServiceContext, jobId: string, owner: string): Promise<JobView | null> {
  const current = await jobsRepo.findJob(ctx.db, jobId);
  return current ? detailedJobView(ctx.db, current, owner, ctx.config.agentFailureLimit) : null;
}

/** Whether the job has ended (done, error, canceled). */
export async function jobHasEnded(ctx: ServiceContext, jobId: string): Promise<boolean> {
  const job = await jobsRepo.findJob(ctx.db, jobId);
  return job !== undefined && isTerminalJob(job.status as JobStatus);
}
