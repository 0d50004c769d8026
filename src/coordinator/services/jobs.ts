// Jobs: the people-facing actions (creation is each kind's, in ../kinds/), and keeping a job's
// status in step with its tasks.
import { priorityProblem } from '../../core/priority.js';
import { type JobStatus, type JobTaskFacts, StateError, assertJobAction, decideJobStatus, factsOfCounts, isTerminalJob } from '../../core/states.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import * as usersRepo from '../../store/repositories/users.js';
import * as webhooksRepo from '../../store/repositories/webhooks.js';
import { eventOfJobStatus } from './webhooks.js';
import type { Db } from '../../store/schema.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';
import { kindOf } from '../kinds/index.js';
import { BATCHED_FROM_TASKS, cancelQueuedInBatches } from './large-jobs.js';
import { advanceSteps } from './step-gate.js';
import { type JobView, detailedJobView } from './views.js';

export { type FileRef, type JobKind, type NewTask, assertOwnsFiles, insertJobWithTasks, jobNameProblem, jobNetwork } from './job-creation.js';
export { type ScriptJobRequest, type ScriptJobSpec, createScriptJob } from '../kinds/script/script-jobs.js';

/** The job if `user` may see it (its owner, or an admin); 404 otherwise, so IDs do not leak. */
export async function jobFor(ctx: ServiceContext, user: UserPrincipal, jobId: string) {
  const row = await jobsRepo.findJobFor(ctx.db, jobId, user.admin ? null : user.id);
  if (!row) throw notFound(`job ${jobId}`);
  return row;
}

export async function jobViewFor(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<JobView> {
  const row = await jobFor(ctx, user, jobId);
  const owner = await usersRepo.findUserById(ctx.db, row.user_id);
  return detailedJobView(ctx.db, row, owner?.name ?? '?', ctx.config.agentFailureLimit);
}

function checkAction(action: 'start' | 'stop' | 'retry', status: JobStatus): void {
  try {
    assertJobAction(action, status);
  } catch (err) {
    if (err instanceof StateError) throw conflict(err.message);
    throw err;
  }
}

export async function startJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  checkAction('start', row.status);
  await jobsRepo.updateJob(ctx.db, jobId, { status: 'queued', queued_at: nowIso() });
  ctx.bus.emit('job', jobId);
  ctx.bus.emit('work');
}

/** Cancels a job: queued tasks never start, running ones are killed at their next heartbeat. */
export async function stopJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  checkAction('stop', row.status);
  const now = nowIso();
  // The job and its running tasks at once; its waiting tasks (a million, in a huge job) after, in
  // batches that leave the store to other requests: a canceled job's tasks are never leased.
  const changed = await ctx.db.transaction().execute(async (trx) => {
    const live = await tasksRepo.tasksOfJobIn(trx, jobId, ['running']);
    for (const t of live) {
      await tasksRepo.finishAttempt(trx, t.id, t.attempt, { status: 'canceled', finished_at: now, exit_code: null, error: 'stopped by a person' });
    }
    await tasksRepo.updateTasksOfJobIn(trx, jobId, ['running'], { status: 'canceled', finished_at: now, lease_expires_at: null, error: 'the job was stopped' });
    await jobsRepo.updateJob(trx, jobId, { status: 'canceled', finished_at: now });
    await webhooksRepo.enqueueJobEvent(trx, jobId, 'job.canceled', now);
    return live;
  });
  for (const t of changed) ctx.bus.emit('task', t.id, jobId);
  const small = row.task_count <= BATCHED_FROM_TASKS;
  await cancelQueuedInBatches(ctx, jobId, now, (ids) => {
    if (small) for (const id of ids) ctx.bus.emit('task', id, jobId);
  });
  ctx.bus.emit('job', jobId);
}

/** Changes a job's priority while it has tasks to lease (created, queued or running). */
export async function setJobPriority(ctx: ServiceContext, user: UserPrincipal, jobId: string, priority: number): Promise<void> {
  const problem = priorityProblem(priority);
  if (problem) throw badRequest(problem);
  const row = await jobFor(ctx, user, jobId);
  if (isTerminalJob(row.status)) throw conflict(`cannot change the priority of a job that is ${row.status}`);
  await jobsRepo.updateJob(ctx.db, jobId, { priority });
  ctx.bus.emit('job', jobId);
  // A job moved ahead may now fit agents that found nothing to take.
  ctx.bus.emit('work');
}

/** Queues errored and canceled tasks again, each with a fresh allowance of attempts. */
export async function retryJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  checkAction('retry', row.status);
  const retried = await ctx.db.transaction().execute(async (trx) => {
    const tasks = await tasksRepo.tasksOfJobIn(trx, jobId, ['error', 'canceled']);
    if (tasks.length === 0) return tasks;
    await tasksRepo.updateTasksOfJobIn(trx, jobId, ['error', 'canceled'], { status: 'queued', tries: 0, agent_id: null, finished_at: null, exit_code: null, error: null, lease_expires_at: null });
    await agentFailuresRepo.forgetAgentFailures(trx, jobId);
    // Jobs of steps: tasks whose steps wait for others go back to pending.
    if (kindOf(row.kind).steps) await advanceSteps(trx, jobId);
    const started = await tasksRepo.anyTaskStarted(trx, jobId);
    // An archived job at work again comes back into sight.
    await jobsRepo.updateJob(trx, jobId, { status: started ? 'running' : 'queued', finished_at: null, queued_at: row.queued_at ?? nowIso(), archived_at: null });
    return tasks;
  });
  if (retried.length === 0) throw conflict('no task of this job errored or was canceled: nothing to retry');
  for (const t of retried) ctx.bus.emit('task', t.id, jobId);
  ctx.bus.emit('job', jobId);
  ctx.bus.emit('work');
}

/** Re-derives a started job's status from its tasks (inside the caller's transaction). */
export async function refreshJobStatus(db: Db, jobId: string, onQueued?: () => void): Promise<boolean> {
  // Serializes replicas deriving the same job's status (PostgreSQL; a no-op on SQLite).
  await jobsRepo.lockJob(db, jobId);
  const job = await jobsRepo.findJob(db, jobId);
  if (!job) return false;
  if (kindOf(job.kind).steps && job.status !== 'canceled' && (await advanceSteps(db, jobId)) > 0) onQueued?.();
  const current = job.status as JobStatus;
  // A running job (every completion, release and expiry: the hot path) is probed, O(1); another's
  // tasks are counted (a job a person requeued, a queued one).
  const facts = current === 'running' ? {} : factsOfCounts((await jobsRepo.taskCountsFor(db, [jobId])).get(jobId)!);
  const next = await decideWithProbes(db, jobId, current, facts);
  if (next === current) return false;
  const now = nowIso();
  await jobsRepo.updateJob(db, jobId, {
    status: next,
    started_at: job.started_at ?? (next === 'running' || isTerminalJob(next) ? now : null),
    finished_at: isTerminalJob(next) ? now : null,
  });
  await queueJobEnd(db, jobId, next, now);
  return true;
}

/**
 * The job's status as core/states.ts decides it, reading each fact it still needs with an indexed
 * LIMIT 1 probe (a running job that has tasks left costs one), in the order it asks for them.
 */
async function decideWithProbes(db: Db, jobId: string, current: JobStatus, known: JobTaskFacts): Promise<JobStatus> {
  const facts = { ...known };
  for (;;) {
    const decision = decideJobStatus(current, facts);
    if (decision.status) return decision.status;
    facts[decision.needs] = await probeTasks(db, jobId, decision.needs);
  }
}

function probeTasks(db: Db, jobId: string, fact: keyof JobTaskFacts): Promise<boolean> {
  switch (fact) {
    case 'unfinished':
      return taskBatches.anyTaskIn(db, jobId, ['pending', 'queued', 'running']);
    case 'failed':
      return taskBatches.anyTaskIn(db, jobId, ['error', 'canceled']);
    case 'done':
      return taskBatches.anyTaskIn(db, jobId, ['done']);
    case 'started':
      return tasksRepo.anyTaskStarted(db, jobId);
  }
}

/** Queues the webhook deliveries of a job's end, in the transaction that ended it. */
async function queueJobEnd(db: Db, jobId: string, status: JobStatus, now: string): Promise<void> {
  const event = eventOfJobStatus(status);
  if (event) await webhooksRepo.enqueueJobEvent(db, jobId, event, now);
}
