// Storing a new job, whatever its kind: the checks every kind makes (name, files the user owns,
// the network its tasks get) and the insert of the job with all its tasks, whole or not at all.
import { randomId, taskId } from '../../core/ids.js';
import type { InstanceType } from '../../core/instance-types.js';
import { decideTaskNetwork, type NetworkDefault } from '../../core/task-network.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { Db } from '../../store/schema.js';
import { badRequest } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, orderedNowIso } from './context.js';

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

/** Inserts a job and all its tasks in one transaction: a job is stored whole or not at all. */
export async function insertJobWithTasks(
  ctx: ServiceContext,
  user: UserPrincipal,
  fields: { name: string; kind: JobKind; /** Tasks the job's taskCount names when not all of them (render: the chunks, not the preview). */ taskCount?: number; instanceType: InstanceType; maxAttempts: number; taskTimeoutSeconds: number | null; image: string | null; spec: unknown; start: boolean },
  tasks: readonly NewTask[],
  /** Stores what belongs to the job beside its tasks (render frames), in the same transaction. */
  afterInsert?: (trx: Db, jobId: string, taskIds: readonly string[]) => Promise<void>,
): Promise<string> {
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
      cores: ctx.config.instanceCores[fields.instanceType],
      max_attempts: fields.maxAttempts,
      task_timeout_seconds: fields.taskTimeoutSeconds,
      image: fields.image,
      spec: JSON.stringify(fields.spec),
      task_count: fields.taskCount ?? tasks.length,
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
