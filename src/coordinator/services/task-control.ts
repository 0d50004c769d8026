// Per-task control: a person stops or reruns chosen tasks of a job (`2,5-9`, or the tasks rendering
// some frames); the rest of the job is untouched and its status follows its tasks.
import { parseFrames, FrameExpressionError } from '../../core/frames.js';
import { TaskSpecError, formatTaskNumbers, parseTaskSpec } from '../../core/task-spec.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { Db } from '../../store/schema.js';
import { inLists } from '../../store/statement-shapes.js';
import { badRequest, conflict } from '../errors.js';
import { kindOf } from '../kinds/index.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';
import { jobFor, refreshJobStatus } from './jobs.js';
import { advanceSteps } from './step-gate.js';

export interface TaskSelection {
  /** Task numbers as `job view` shows them: `3`, `2,5-9`. */
  tasks?: string;
  /** Render jobs: the tasks rendering any of these frames. */
  frames?: string;
}

interface SelectedTask {
  id: string;
  idx: number;
  status: string;
  attempt: number;
  step: number;
}

/** The selected tasks of the job, by number; a number the job does not have is a 400. */
async function selectTasks(db: Db, job: jobsRepo.JobRow, sel: TaskSelection): Promise<SelectedTask[]> {
  if ((sel.tasks === undefined) === (sel.frames === undefined)) throw badRequest('choose the tasks with either "tasks" (such as 2,5-9) or "frames" (render jobs)');
  if (sel.tasks !== undefined) {
    let numbers: number[];
    try {
      numbers = parseTaskSpec(sel.tasks);
    } catch (err) {
      if (err instanceof TaskSpecError) throw badRequest(err.message);
      throw err;
    }
    const rows: SelectedTask[] = [];
    for (const part of inLists(numbers)) {
      rows.push(...(await db.selectFrom('tasks').select(['id', 'idx', 'status', 'attempt', 'step']).where('job_id', '=', job.id).where('idx', 'in', part).execute()));
    }
    const found = new Set(rows.map((r) => r.idx));
    const absent = numbers.filter((n) => !found.has(n));
    if (absent.length > 0) throw badRequest(`job ${job.id} has no task ${formatTaskNumbers(absent.slice(0, 20))}${absent.length > 20 ? ', …' : ''} (its tasks are numbered 1 to ${job.task_count})`);
    return rows.sort((a, b) => a.idx - b.idx);
  }
  if (job.kind !== 'render') throw badRequest(`"frames" chooses tasks of render jobs; job ${job.id} is a ${job.kind} job: choose by task number`);
  let frames: number[];
  try {
    frames = parseFrames(sel.frames!);
  } catch (err) {
    if (err instanceof FrameExpressionError) throw badRequest(err.message);
    throw err;
  }
  const taskIds = new Set<string>();
  for (const part of inLists(frames)) {
    for (const r of await db.selectFrom('frames').select('task_id').where('job_id', '=', job.id).where('frame', 'in', part).execute()) taskIds.add(r.task_id);
  }
  if (taskIds.size === 0) throw badRequest(`job ${job.id} renders none of the frames ${sel.frames}`);
  const rows: SelectedTask[] = [];
  for (const part of inLists([...taskIds])) rows.push(...(await db.selectFrom('tasks').select(['id', 'idx', 'status', 'attempt', 'step']).where('id', 'in', part).execute()));
  return rows.sort((a, b) => a.idx - b.idx);
}

/** Cancels the chosen tasks that have not ended (running ones are killed at their next heartbeat). Returns their numbers. */
export async function stopTasks(ctx: ServiceContext, user: UserPrincipal, jobId: string, sel: TaskSelection): Promise<number[]> {
  const job = await jobFor(ctx, user, jobId);
  const now = nowIso();
  const stopped = await ctx.db.transaction().execute(async (trx) => {
    await jobsRepo.lockJob(trx, job.id);
    const chosen = (await selectTasks(trx, job, sel)).filter((t) => t.status === 'pending' || t.status === 'queued' || t.status === 'running');
    if (chosen.length === 0) return chosen;
    for (const t of chosen) {
      await tasksRepo.lockTask(trx, t.id);
      if (t.status === 'running') await tasksRepo.finishAttempt(trx, t.id, t.attempt, { status: 'canceled', finished_at: now, exit_code: null, error: 'stopped by a person' });
    }
    for (const part of inLists(chosen.map((t) => t.id))) {
      await trx
        .updateTable('tasks')
        .set({ status: 'canceled', finished_at: now, lease_expires_at: null, error: 'stopped by a person' })
        .where('id', 'in', part)
        .where('status', 'in', ['pending', 'queued', 'running'])
        .execute();
    }
    await refreshJobStatus(trx, job.id);
    return chosen;
  });
  if (stopped.length === 0) throw conflict('none of the chosen tasks is waiting or running: nothing to stop');
  for (const t of stopped) ctx.bus.emit('task', t.id, job.id);
  ctx.bus.emit('job', job.id);
  return stopped.map((t) => t.idx);
}

/**
 * Queues the chosen tasks that have ended (done ones too) again, each with a fresh allowance of
 * attempts; what a done task delivered is forgotten first, so its old result is never served as the
 * new one. Returns their numbers.
 */
export async function retryTasks(ctx: ServiceContext, user: UserPrincipal, jobId: string, sel: TaskSelection): Promise<number[]> {
  const job = await jobFor(ctx, user, jobId);
  if (job.status === 'created') throw conflict(`job ${job.id} has not been started: start it first (its tasks are waiting already)`);
  const kind = kindOf(job.kind);
  const requeued = await ctx.db.transaction().execute(async (trx) => {
    await jobsRepo.lockJob(trx, job.id);
    const chosen = (await selectTasks(trx, job, sel)).filter((t) => t.status === 'done' || t.status === 'error' || t.status === 'canceled');
    if (chosen.length === 0) return chosen;
    for (const t of chosen) {
      await tasksRepo.lockTask(trx, t.id);
      await trx.deleteFrom('task_files').where('task_id', '=', t.id).execute();
      await kind.forgetResults?.(trx, { id: t.id, job_id: job.id, step: t.step });
    }
    for (const part of inLists(chosen.map((t) => t.id))) {
      await trx
        .updateTable('tasks')
        .set({ status: 'queued', tries: 0, agent_id: null, finished_at: null, exit_code: null, error: null, lease_expires_at: null, progress: null, message: null })
        .where('id', 'in', part)
        .where('status', 'in', ['done', 'error', 'canceled'])
        .execute();
    }
    await agentFailuresRepo.forgetAgentFailures(trx, job.id);
    // Jobs of steps: a chosen task whose step waits for others goes back to pending.
    if (kind.steps) await advanceSteps(trx, job.id);
    const started = await tasksRepo.anyTaskStarted(trx, job.id);
    // An archived job at work again comes back into sight.
    await jobsRepo.updateJob(trx, job.id, { status: started ? 'running' : 'queued', finished_at: null, queued_at: job.queued_at ?? nowIso(), archived_at: null });
    return chosen;
  });
  if (requeued.length === 0) throw conflict('none of the chosen tasks has ended: nothing to retry (stop running ones first)');
  for (const t of requeued) ctx.bus.emit('task', t.id, job.id);
  ctx.bus.emit('job', job.id);
  ctx.bus.emit('work');
  return requeued.map((t) => t.idx);
}
