// Jobs: creation (whole or not at all), the people-facing actions, and keeping a job's status in
// step with its tasks.
import { randomId, taskId } from '../../core/ids.js';
import type { InstanceType } from '../../core/instance-types.js';
import { sharedNameClashes } from '../../core/inputs.js';
import { StateError, assertJobAction, deriveJobStatus, isTerminalJob, type JobStatus } from '../../core/states.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import * as usersRepo from '../../store/repositories/users.js';
import type { Db } from '../../store/schema.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso, orderedNowIso } from './context.js';
import { resolveJobImage } from './images.js';
import { type JobView, detailedJobView } from './views.js';
import { BATCHED_FROM_TASKS, assertTaskLimit, cancelQueuedInBatches, insertJobInBatches } from './large-jobs.js';

export interface FileRef {
  name: string;
  sha256: string;
}

export interface ScriptJobRequest {
  kind: 'script';
  name: string;
  script: FileRef;
  inputs: FileRef[];
  constants?: FileRef[];
  instanceType?: InstanceType;
  maxAttempts?: number;
  taskTimeoutSeconds?: number;
  image?: string;
  network?: boolean;
  start?: boolean;
}

/** What a script job keeps beside its rows; the agent gets it with every leased task. */
export interface ScriptJobSpec {
  script: FileRef;
  constants: FileRef[];
  network: boolean;
}

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export function jobNameProblem(name: string): string | null {
  if (name.trim().length === 0) return 'the job name is empty';
  if (name.length > 200) return 'the job name is longer than 200 characters';
  if (CONTROL_CHARS.test(name)) return 'the job name contains control characters';
  return null;
}

/** Refuses files the user has not uploaded: knowing a hash must not grant someone else's file. */
export async function assertOwnsFiles(ctx: ServiceContext, userId: string, files: readonly FileRef[]): Promise<void> {
  const hashes = [...new Set(files.map((f) => f.sha256))];
  const owned = await blobsRepo.ownedBlobs(ctx.db, userId, hashes);
  const missing = files.filter((f) => !owned.has(f.sha256));
  if (missing.length > 0) {
    const names = missing.slice(0, 5).map((f) => `"${f.name}"`).join(', ');
    throw badRequest(`${missing.length} file(s) were not uploaded first: ${names}${missing.length > 5 ? ', …' : ''}`);
  }
}

export interface NewTask {
  input: string;
  inputSha: string | null;
  spec: unknown;
}

type NewJobFields = { name: string; kind: 'script' | 'render'; instanceType: InstanceType; maxAttempts: number; taskTimeoutSeconds: number | null; image: string | null; spec: unknown; start: boolean };

function jobRow(ctx: ServiceContext, user: UserPrincipal, id: string, now: string, fields: NewJobFields, taskCount: number): jobsRepo.JobRow {
  return {
    id,
    user_id: user.id,
    name: fields.name,
    kind: fields.kind,
    status: fields.start ? 'queued' : 'created',
    instance_type: fields.instanceType,
    cores: ctx.config.instanceCores[fields.instanceType],
    max_attempts: fields.maxAttempts,
    task_timeout_seconds: fields.taskTimeoutSeconds,
    image: fields.image,
    spec: JSON.stringify(fields.spec),
    task_count: taskCount,
    created_at: now,
    queued_at: fields.start ? now : null,
    started_at: null,
    finished_at: null,
  };
}

function taskRow(jobId: string, i: number, t: NewTask): tasksRepo.TaskRow {
  return {
    id: taskId(jobId, i + 1),
    job_id: jobId,
    idx: i + 1,
    status: 'queued',
    input_name: t.input,
    input_sha: t.inputSha,
    spec: t.spec === null ? null : JSON.stringify(t.spec),
    attempt: 0,
    tries: 0,
    agent_id: null,
    lease_expires_at: null,
    started_at: null,
    finished_at: null,
    exit_code: null,
    error: null,
  };
}

/** A new task and its id, as `insertJobWithTasks` hands them to what stores things beside tasks. */
export interface InsertedTask {
  id: string;
  task: NewTask;
}

/**
 * Inserts a job and its tasks: a job is stored whole or not at all. Up to BATCHED_FROM_TASKS tasks
 * go in one transaction; more are taken as they come and inserted in batches with the job hidden
 * until the last one is in (services/large-jobs.ts), so other requests are not held up.
 */
export async function insertJobWithTasks(
  ctx: ServiceContext,
  user: UserPrincipal,
  fields: NewJobFields,
  tasks: Iterable<NewTask>,
  /** Stores what belongs to tasks beside them (render frames), in the same transaction as they. */
  afterInsert?: (trx: Db, jobId: string, inserted: readonly InsertedTask[]) => Promise<void>,
): Promise<string> {
  const id = randomId('j');
  const now = orderedNowIso();
  const iterator = tasks[Symbol.iterator]();
  const head: NewTask[] = [];
  for (let next = iterator.next(); !next.done; next = iterator.next()) {
    head.push(next.value);
    if (head.length > BATCHED_FROM_TASKS) break;
  }
  if (head.length > BATCHED_FROM_TASKS) {
    const all = (function* () {
      yield* head;
      for (let next = iterator.next(); !next.done; next = iterator.next()) yield next.value;
    })();
    const after = afterInsert && ((trx: Db, batch: readonly { row: tasksRepo.TaskRow; item: NewTask }[]) => afterInsert(trx, id, batch.map((b) => ({ id: b.row.id, task: b.item }))));
    await insertJobInBatches(ctx, jobRow(ctx, user, id, now, fields, 0), all, (i, t) => taskRow(id, i, t), after);
  } else {
    assertTaskLimit(ctx, head.length);
    await ctx.db.transaction().execute(async (trx) => {
      await jobsRepo.insertJob(trx, jobRow(ctx, user, id, now, fields, head.length));
      const rows = head.map((t, i) => taskRow(id, i, t));
      await tasksRepo.insertTasks(trx, rows);
      await afterInsert?.(trx, id, rows.map((r, i) => ({ id: r.id, task: head[i]! })));
    });
  }
  ctx.bus.emit('job', id);
  if (fields.start) ctx.bus.emit('work');
  return id;
}

export async function createScriptJob(ctx: ServiceContext, user: UserPrincipal, req: ScriptJobRequest): Promise<string> {
  const nameProblem = jobNameProblem(req.name);
  if (nameProblem) throw badRequest(nameProblem);
  if (req.inputs.length === 0) throw badRequest('a script job needs at least one input file: one task runs per input');
  const constants = req.constants ?? [];
  const clash = sharedNameClashes(req.script, constants, req.inputs);
  if (clash) throw badRequest(clash);
  await assertOwnsFiles(ctx, user.id, [req.script, ...constants, ...req.inputs]);
  const spec: ScriptJobSpec = { script: req.script, constants, network: req.network ?? false };
  const image = await resolveJobImage(ctx.db, user.id, req.image);
  return insertJobWithTasks(
    ctx,
    user,
    {
      name: req.name,
      kind: 'script',
      instanceType: req.instanceType ?? 's',
      maxAttempts: req.maxAttempts ?? 3,
      taskTimeoutSeconds: req.taskTimeoutSeconds ?? null,
      image,
      spec,
      start: req.start ?? false,
    },
    req.inputs.map((input) => ({ input: input.name, inputSha: input.sha256, spec: null })),
  );
}

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

function checkAction(action: 'start' | 'stop' | 'retry', status: string): void {
  try {
    assertJobAction(action, status as JobStatus);
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
  // The job and its running tasks at once; its queued tasks (a million, in a huge job) after, in
  // batches that leave the store to other requests: a canceled job's tasks are never leased.
  const changed = await ctx.db.transaction().execute(async (trx) => {
    const live = await trx.selectFrom('tasks').select(['id', 'status', 'attempt']).where('job_id', '=', jobId).where('status', '=', 'running').execute();
    for (const t of live) {
      await tasksRepo.finishAttempt(trx, t.id, t.attempt, { status: 'canceled', finished_at: now, exit_code: null, error: 'stopped by a person' });
    }
    await trx
      .updateTable('tasks')
      .set({ status: 'canceled', finished_at: now, lease_expires_at: null, error: 'the job was stopped' })
      .where('job_id', '=', jobId)
      .where('status', '=', 'running')
      .execute();
    await jobsRepo.updateJob(trx, jobId, { status: 'canceled', finished_at: now });
    return live;
  });
  for (const t of changed) ctx.bus.emit('task', t.id, jobId);
  const small = row.task_count <= BATCHED_FROM_TASKS;
  await cancelQueuedInBatches(ctx, jobId, now, (ids) => {
    if (small) for (const id of ids) ctx.bus.emit('task', id, jobId);
  });
  ctx.bus.emit('job', jobId);
}

/** Queues errored and canceled tasks again, each with a fresh allowance of attempts. */
export async function retryJob(ctx: ServiceContext, user: UserPrincipal, jobId: string): Promise<void> {
  const row = await jobFor(ctx, user, jobId);
  checkAction('retry', row.status);
  const retried = await ctx.db.transaction().execute(async (trx) => {
    const tasks = await trx.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', ['error', 'canceled']).execute();
    if (tasks.length === 0) return tasks;
    await trx
      .updateTable('tasks')
      .set({ status: 'queued', tries: 0, agent_id: null, finished_at: null, exit_code: null, error: null, lease_expires_at: null })
      .where('job_id', '=', jobId)
      .where('status', 'in', ['error', 'canceled'])
      .execute();
    await agentFailuresRepo.forgetAgentFailures(trx, jobId);
    const started = await tasksRepo.anyTaskStarted(trx, jobId);
    await jobsRepo.updateJob(trx, jobId, { status: started ? 'running' : 'queued', finished_at: null, queued_at: row.queued_at ?? nowIso() });
    return tasks;
  });
  if (retried.length === 0) throw conflict('no task of this job errored or was canceled: nothing to retry');
  for (const t of retried) ctx.bus.emit('task', t.id, jobId);
  ctx.bus.emit('job', jobId);
  ctx.bus.emit('work');
}

/** Re-derives a started job's status from its tasks (inside the caller's transaction). */
export async function refreshJobStatus(db: Db, jobId: string): Promise<boolean> {
  // Serializes replicas deriving the same job's status (PostgreSQL; a no-op on SQLite).
  await jobsRepo.lockJob(db, jobId);
  const job = await jobsRepo.findJob(db, jobId);
  if (!job) return false;
  if (job.status === 'running') return refreshRunningJob(db, job);
  const counts = (await jobsRepo.taskCountsFor(db, [jobId])).get(jobId)!;
  const started = counts.running + counts.done + counts.error > 0 || (await tasksRepo.anyTaskStarted(db, jobId));
  const next = deriveJobStatus(job.status as JobStatus, counts, started);
  if (next === job.status) return false;
  const now = nowIso();
  await jobsRepo.updateJob(db, jobId, {
    status: next,
    started_at: job.started_at ?? (next === 'running' || isTerminalJob(next) ? now : null),
    finished_at: isTerminalJob(next) ? now : null,
  });
  return true;
}

/**
 * The hot path of `refreshJobStatus` (every completion, release and expiry of a running job), O(1)
 * instead of counting the job's tasks: what `deriveJobStatus` would say, from indexed LIMIT 1 probes.
 * A running job has a started task, and a task's attempt never goes back to 0, so it stays running
 * while any task is queued or running; otherwise it is done when every task is, else error.
 */
async function refreshRunningJob(db: Db, job: jobsRepo.JobRow): Promise<boolean> {
  if (await taskBatches.anyTaskIn(db, job.id, ['queued', 'running'])) return false;
  const failed = await taskBatches.anyTaskIn(db, job.id, ['error', 'canceled']);
  const next: JobStatus = !failed && (await taskBatches.anyTaskIn(db, job.id, ['done'])) ? 'done' : 'error';
  const now = nowIso();
  await jobsRepo.updateJob(db, job.id, { status: next, started_at: job.started_at ?? now, finished_at: now });
  return true;
}
