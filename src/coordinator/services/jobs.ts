// Jobs: creation (whole or not at all), the people-facing actions, and keeping a job's status in
// step with its tasks.
import { randomId, taskId } from '../../core/ids.js';
import { DEFAULT_PRIORITY, priorityProblem } from '../../core/priority.js';
import { type JobRequirements, isEmpty, requirementsProblem } from '../../core/job-requirements.js';
import type { InstanceType } from '../../core/instance-types.js';
import { sharedNameClashes } from '../../core/inputs.js';
import { NETWORK_DEFAULTS, decideTaskNetwork, type NetworkDefault } from '../../core/task-network.js';
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
import { checkAfter, insertDependencies } from './dependencies.js';
import { advanceSteps } from './step-gate.js';
import { type JobView, detailedJobView } from './views.js';

export type JobKind = 'script' | 'render' | 'template';

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
  requireResults?: boolean;
  /** 0–100, higher leased first; default 50. */
  priority?: number;
  /** Jobs it waits for: its tasks are offered to agents once they are done (`afterAny`: ended). */
  after?: string[];
  afterAny?: boolean;
  /** Cores per task instead of the instance type's, and what else an agent must offer. */
  cores?: number;
  requirements?: JobRequirements;
  start?: boolean;
}

/** What a script job keeps beside its rows; the agent gets it with every leased task. */
export interface ScriptJobSpec {
  script: FileRef;
  constants: FileRef[];
  network: boolean;
  /** A task that exits 0 without writing a result file fails (the agent checks; see task-results.ts). */
  requireResults?: boolean;
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
  /** Template jobs: the task's step, and whether it waits for the steps that one depends on. */
  step?: number;
  pending?: boolean;
}

/** Inserts a job and all its tasks in one transaction: a job is stored whole or not at all. */
export async function insertJobWithTasks(
  ctx: ServiceContext,
  user: UserPrincipal,
  fields: { name: string; kind: JobKind; instanceType: InstanceType; maxAttempts: number; taskTimeoutSeconds: number | null; image: string | null; spec: unknown; start: boolean; priority?: number | undefined; after?: string[] | undefined; afterAny?: boolean | undefined; cores?: number | undefined; requirements?: JobRequirements | undefined },
  tasks: readonly NewTask[],
  /** Stores what belongs to the job beside its tasks (render frames), in the same transaction. */
  afterInsert?: (trx: Db, jobId: string, taskIds: readonly string[]) => Promise<void>,
): Promise<string> {
  const requirementProblem = fields.requirements ? requirementsProblem(fields.requirements) : null;
  if (requirementProblem) throw badRequest(requirementProblem);
  const after = await checkAfter(ctx, user, fields.after, fields.afterAny ?? false);
  const id = randomId('j');
  const now = orderedNowIso();
  const taskIds = tasks.map((_, i) => taskId(id, i + 1));
  await ctx.db.transaction().execute(async (trx) => {
    await jobsRepo.insertJob(trx, {
      id,
      user_id: user.id,
      name: fields.name,
      kind: fields.kind,
      status: fields.start ? 'queued' : 'created',
      instance_type: fields.instanceType,
      // `cores` (--cores) asks for an exact number; otherwise the instance type's.
      cores: fields.cores ?? ctx.config.instanceCores[fields.instanceType],
      max_attempts: fields.maxAttempts,
      task_timeout_seconds: fields.taskTimeoutSeconds,
      image: fields.image,
      spec: JSON.stringify(fields.spec),
      task_count: tasks.length,
      priority: fields.priority ?? DEFAULT_PRIORITY,
      held: after.held ? 1 : 0,
      after_any: fields.afterAny ? 1 : 0,
      requirements: isEmpty(fields.requirements) ? null : JSON.stringify(fields.requirements),
      created_at: now,
      queued_at: fields.start ? now : null,
      started_at: null,
      finished_at: null,
    });
    await tasksRepo.insertTasks(
      trx,
      tasks.map((t, i) => ({
        id: taskIds[i]!,
        job_id: id,
        idx: i + 1,
        status: t.pending ? 'pending' : 'queued',
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
        step: t.step ?? 0,
        progress: null,
        message: null,
      })),
    );
    await insertDependencies(trx, id, after.ids);
    await afterInsert?.(trx, id, taskIds);
  });
  ctx.bus.emit('job', id);
  if (fields.start) ctx.bus.emit('work');
  return id;
}

/** The network a new job's tasks get under the farm's setting; a job asking for what the farm forbids is refused. */
export function jobNetwork(ctx: ServiceContext, requested: boolean | undefined, kindDefault: NetworkDefault): boolean {
  const decision = decideTaskNetwork(requested, kindDefault, ctx.config.taskNetwork);
  if ('refused' in decision) throw badRequest(decision.refused);
  return decision.network;
}

export async function createScriptJob(ctx: ServiceContext, user: UserPrincipal, req: ScriptJobRequest): Promise<string> {
  const nameProblem = jobNameProblem(req.name);
  if (nameProblem) throw badRequest(nameProblem);
  if (req.inputs.length === 0) throw badRequest('a script job needs at least one input file: one task runs per input');
  const constants = req.constants ?? [];
  const clash = sharedNameClashes(req.script, constants, req.inputs);
  if (clash) throw badRequest(clash);
  await assertOwnsFiles(ctx, user.id, [req.script, ...constants, ...req.inputs]);
  const network = jobNetwork(ctx, req.network, NETWORK_DEFAULTS.script);
  const spec: ScriptJobSpec = { script: req.script, constants, network, ...(req.requireResults ? { requireResults: true } : {}) };
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
      priority: req.priority,
      after: req.after,
      afterAny: req.afterAny,
      cores: req.cores,
      requirements: req.requirements,
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
  const changed = await ctx.db.transaction().execute(async (trx) => {
    const live = await trx.selectFrom('tasks').select(['id', 'status', 'attempt']).where('job_id', '=', jobId).where('status', 'in', ['queued', 'running']).execute();
    for (const t of live) {
      if (t.status === 'running') {
        await tasksRepo.finishAttempt(trx, t.id, t.attempt, { status: 'canceled', finished_at: now, exit_code: null, error: 'stopped by a person' });
      }
    }
    await trx
      .updateTable('tasks')
      .set({ status: 'canceled', finished_at: now, lease_expires_at: null, error: 'the job was stopped' })
      .where('job_id', '=', jobId)
      .where('status', 'in', ['pending', 'queued', 'running'])
      .execute();
    await jobsRepo.updateJob(trx, jobId, { status: 'canceled', finished_at: now });
    return live;
  });
  for (const t of changed) ctx.bus.emit('task', t.id, jobId);
  ctx.bus.emit('job', jobId);
}

/** Changes a job's priority while it has tasks to lease (created, queued or running). */
export async function setJobPriority(ctx: ServiceContext, user: UserPrincipal, jobId: string, priority: number): Promise<void> {
  const problem = priorityProblem(priority);
  if (problem) throw badRequest(problem);
  const row = await jobFor(ctx, user, jobId);
  if (isTerminalJob(row.status as JobStatus)) throw conflict(`cannot change the priority of a job that is ${row.status}`);
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
    const tasks = await trx.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', 'in', ['error', 'canceled']).execute();
    if (tasks.length === 0) return tasks;
    await trx
      .updateTable('tasks')
      .set({ status: 'queued', tries: 0, agent_id: null, finished_at: null, exit_code: null, error: null, lease_expires_at: null })
      .where('job_id', '=', jobId)
      .where('status', 'in', ['error', 'canceled'])
      .execute();
    await agentFailuresRepo.forgetAgentFailures(trx, jobId);
    // Template jobs: tasks whose steps wait for others go back to pending.
    if (row.kind === 'template') await advanceSteps(trx, jobId);
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
export async function refreshJobStatus(db: Db, jobId: string, onQueued?: () => void): Promise<boolean> {
  // Serializes replicas deriving the same job's status (PostgreSQL; a no-op on SQLite).
  await jobsRepo.lockJob(db, jobId);
  const job = await jobsRepo.findJob(db, jobId);
  if (!job) return false;
  if (job.kind === 'template' && job.status !== 'canceled' && (await advanceSteps(db, jobId)) > 0) onQueued?.();
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
  if (await taskBatches.anyTaskIn(db, job.id, ['pending', 'queued', 'running'])) return false;
  const failed = await taskBatches.anyTaskIn(db, job.id, ['error', 'canceled']);
  const next: JobStatus = !failed && (await taskBatches.anyTaskIn(db, job.id, ['done'])) ? 'done' : 'error';
  const now = nowIso();
  await jobsRepo.updateJob(db, job.id, { status: next, started_at: job.started_at ?? now, finished_at: now });
  return true;
}
