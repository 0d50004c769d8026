// One task as its owner (or an admin) sees it: its view, its attempts and the files it delivered.
import * as framesRepo from '../../store/repositories/frames.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { TaskDetail, TaskView } from '../../wire/index.js';
import { notFound } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import type { ServiceContext } from './context.js';
import { taskView } from './views.js';

/** A task with its job's owner and attempt limit. */
export type OwnedTask = NonNullable<Awaited<ReturnType<typeof tasksRepo.findTaskWithOwner>>>;

/** The task, when `user` may see it (theirs, or any for an admin); another's answers 404 as if it did not exist. */
export async function taskFor(ctx: ServiceContext, user: UserPrincipal, taskId: string): Promise<OwnedTask> {
  const task = await tasksRepo.findTaskWithOwner(ctx.db, taskId);
  if (!task || (!user.admin && task.user_id !== user.id)) throw notFound(`task ${taskId}`);
  return task;
}

/** The task's view now (with its agent's name), or null once it is gone. */
export async function currentTaskView(ctx: ServiceContext, task: OwnedTask): Promise<TaskView | null> {
  const [row] = await tasksRepo.listTasksByIds(ctx.db, [task.id]);
  return row ? taskView(row, task.max_attempts) : null;
}

/** The task page's answer (GET /tasks/:id): its view, its attempts and what it delivered. */
export async function taskDetail(ctx: ServiceContext, task: OwnedTask): Promise<TaskDetail> {
  const [row] = await tasksRepo.listTasksByIds(ctx.db, [task.id]);
  const [attempts, files, frames] = await Promise.all([tasksRepo.listAttempts(ctx.db, task.id), tasksRepo.filesOfTask(ctx.db, task.id), framesRepo.doneFramesOfTask(ctx.db, task.id)]);
  return {
    ...taskView(row!, task.max_attempts),
    // what it delivered, each downloadable from GET /jobs/:id/files/:sha256
    files: [
      ...frames.map((f) => ({ path: f.path ?? `frames/${f.frame}`, sha256: f.sha256!, size: Number(f.size ?? 0) })),
      ...files.map((f) => ({ path: f.path, sha256: f.sha256, size: Number(f.size) })),
    ],
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      agent: a.agent_name ?? null,
      status: a.status,
      startedAt: a.started_at,
      finishedAt: a.finished_at,
      exitCode: a.exit_code,
      error: a.error,
    })),
  };
}
