// Storing a new job, whatever its kind: the checks every kind makes (name, files the user owns,
// the network its tasks get) and the insert of the job with all its tasks, whole or not at all.
import { randomId, taskId } from '../../core/ids.js';
import { type InstanceType, withInstanceGpus } from '../../core/instance-types.js';
import { type JobRequirements, isEmpty, requirementsProblem } from '../../core/job-requirements.js';
import { DEFAULT_PRIORITY, priorityProblem } from '../../core/priority.js';
import { decideTaskNetwork, type NetworkDefault } from '../../core/task-network.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { Db } from '../../store/schema.js';
import { badRequest } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, orderedNowIso } from './context.js';
import { checkAfter, insertDependencies } from './dependencies.js';
import { BATCHED_FROM_TASKS, assertTaskLimit, insertJobInBatches } from './large-jobs.js';

export type JobKind = 'script' | 'render' | 'template';

export interface FileRef {
  name: string;
  sha256: string;
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

/** What every kind's request may say about running its tasks and scheduling them. */
export interface RunRequest {
  instanceType?: InstanceType;
  maxAttempts?: number;
  taskTimeoutSeconds?: number;
  start?: boolean;
  /** 0–100, higher leased first; default 50. */
  priority?: number;
  /** Jobs it waits for: its tasks are offered to agents once they are done (`afterAny`: ended). */
  after?: string[];
  afterAny?: boolean;
  /** Cores per task instead of the instance type's, and what else an agent must offer. */
  cores?: number;
  requirements?: JobRequirements;
}

/** What every kind's request says about running its tasks, with the farm's defaults applied. */
export function runSettings(req: RunRequest) {
  const instanceType = req.instanceType ?? 's';
  return {
    instanceType,
    maxAttempts: req.maxAttempts ?? 3,
    taskTimeoutSeconds: req.taskTimeoutSeconds ?? null,
    start: req.start ?? false,
    priority: req.priority,
    after: req.after,
    afterAny: req.afterAny,
    cores: req.cores,
    // A GPU preset (`-t gpu`) asks for its GPUs like --gpus does.
    requirements: withInstanceGpus(req.requirements, instanceType),
  };
}

export type NewJobFields = {
  name: string;
  kind: JobKind;
  /** Tasks the job's taskCount names when not all of them (render: the chunks, not the preview). */
  taskCount?: number;
  instanceType: InstanceType;
  maxAttempts: number;
  taskTimeoutSeconds: number | null;
  image: string | null;
  spec: unknown;
  start: boolean;
  priority?: number | undefined;
  after?: string[] | undefined;
  afterAny?: boolean | undefined;
  cores?: number | undefined;
  requirements?: JobRequirements | undefined;
};

function jobRow(ctx: ServiceContext, user: UserPrincipal, id: string, now: string, fields: NewJobFields, taskCount: number, held: boolean): jobsRepo.JobRow {
  return {
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
    task_count: fields.taskCount ?? taskCount,
    priority: fields.priority ?? DEFAULT_PRIORITY,
    held: held ? 1 : 0,
    after_any: fields.afterAny ? 1 : 0,
    requirements: isEmpty(fields.requirements) ? null : JSON.stringify(fields.requirements),
    created_at: now,
    queued_at: fields.start ? now : null,
    started_at: null,
    finished_at: null,
    archived_at: null,
  };
}

function taskRow(jobId: string, i: number, t: NewTask): tasksRepo.TaskRow {
  return {
    id: taskId(jobId, i + 1),
    job_id: jobId,
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
  const priority = fields.priority === undefined ? null : priorityProblem(fields.priority);
  if (priority) throw badRequest(priority);
  const requirementProblem = fields.requirements ? requirementsProblem(fields.requirements) : null;
  if (requirementProblem) throw badRequest(requirementProblem);
  const after = await checkAfter(ctx, user, fields.after, fields.afterAny ?? false);
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
    // The job stays hidden until its last batch is in, so its dependencies go in with the first.
    let dependenciesStored = false;
    const afterBatch = async (trx: Db, batch: readonly { row: tasksRepo.TaskRow; item: NewTask }[]) => {
      if (!dependenciesStored) await insertDependencies(trx, id, after.ids);
      dependenciesStored = true;
      await afterInsert?.(trx, id, batch.map((b) => ({ id: b.row.id, task: b.item })));
    };
    await insertJobInBatches(ctx, jobRow(ctx, user, id, now, fields, 0, after.held), all, (i, t) => taskRow(id, i, t), afterBatch);
  } else {
    assertTaskLimit(ctx, head.length);
    await ctx.db.transaction().execute(async (trx) => {
      await jobsRepo.insertJob(trx, jobRow(ctx, user, id, now, fields, head.length, after.held));
      const rows = head.map((t, i) => taskRow(id, i, t));
      await tasksRepo.insertTasks(trx, rows);
      await insertDependencies(trx, id, after.ids);
      await afterInsert?.(trx, id, rows.map((r, i) => ({ id: r.id, task: head[i]! })));
    });
  }
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
