// Many results in one request: an agent that ran a batch of short tasks reports them together, and
// the coordinator stores them set at a time. Each result is judged on its own, exactly as
// `completeTask` judges it: accepted only from the agent holding the task's current lease at that
// attempt (409 lease_lost otherwise), with the same task and job state changes and events.
import { relativePathProblem } from '../../core/inputs.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as taskBatches from '../../store/repositories/task-batches.js';
import { HttpError, badRequest, leaseLost } from '../errors.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, nowIso } from './context.js';
import { refreshJobStatus } from './jobs.js';
import { type Completion, type Lease, type LeasedTask, announceLease, completeTask, leaseTasks, leaseWithin } from './leasing.js';
import { transact } from '../../store/group-commit.js';

export interface TaskCompletion extends Completion {
  taskId: string;
}

export type CompletionResult = { taskId: string; accepted: true } | { taskId: string; accepted: false; status: number; error: { code: string; message: string } };

const refused = (taskId: string, err: HttpError): CompletionResult => ({ taskId, accepted: false, status: err.status, error: { code: err.code, message: err.message } });

function resultFiles(c: Completion) {
  return [...c.files, { path: 'stdout.txt', ...c.stdout }, { path: 'stderr.txt', ...c.stderr }];
}

/** Why `completeTask` would refuse this completion's file list with 400, or null. */
function filesProblem(c: Completion): string | null {
  const seen = new Set<string>();
  for (const f of resultFiles(c)) {
    const problem = relativePathProblem(f.path);
    if (problem) return problem;
    if (seen.has(f.path)) return `result path "${f.path}" is listed twice`;
    seen.add(f.path);
  }
  return null;
}

/**
 * Accepts a batch of completions. Successful script tasks (the common case) are stored together in
 * one transaction: a few statements for the batch, one O(1) status check per job, one job event
 * per job (successes make no work for others, so no work event). Failures and render tasks go
 * through `completeTask` one by one (retries, blocklists and frame checks stay in one place).
 * Answers one result per completion, in order.
 */
export async function completeTasks(
  ctx: ServiceContext,
  agent: AgentPrincipal,
  items: readonly TaskCompletion[],
  next?: { freeCores: number; maxTasks: number },
): Promise<{ results: CompletionResult[]; tasks?: LeasedTask[] }> {
  const results = new Map<number, CompletionResult>();
  const known = await blobsRepo.knownBlobs(ctx.db, [...new Set(items.flatMap((c) => resultFiles(c).map((f) => f.sha256)))]);
  const fast: number[] = [];
  const slow: number[] = [];
  const seen = new Set<string>();
  items.forEach((c, i) => {
    if (seen.has(c.taskId)) return slow.push(i); // the second report of a task: judged after the first
    seen.add(c.taskId);
    const problem = filesProblem(c);
    if (problem) return results.set(i, refused(c.taskId, badRequest(problem)));
    const missing = resultFiles(c).filter((f) => !known.has(f.sha256));
    if (missing.length > 0) return results.set(i, refused(c.taskId, badRequest(`result files were not uploaded first: ${missing.slice(0, 5).map((f) => f.path).join(', ')}`)));
    (c.exitCode === 0 && !c.error ? fast : slow).push(i);
  });

  const accepted: { taskId: string; jobId: string }[] = [];
  let lease: Lease | undefined;
  if (fast.length > 0) {
    await transact(ctx.db, async (trx) => {
      const held = new Map((await taskBatches.heldTasks(trx, fast.map((i) => items[i]!.taskId))).map((t) => [t.id, t]));
      const take: number[] = [];
      for (const i of fast) {
        const c = items[i]!;
        const t = held.get(c.taskId);
        if (!t || t.status !== 'running' || t.agent_id !== agent.id || t.attempt !== c.attempt) results.set(i, refused(c.taskId, leaseLost(c.taskId)));
        else if (t.job_kind !== 'script') slow.push(i); // render: frames are checked by completeTask
        else take.push(i);
      }
      // With nothing to judge one by one, the next lease commits with these results (one
      // transaction per request); otherwise it waits for them, so that a failure counted against
      // this agent (a blocklist) is seen by its next lease.
      if (take.length === 0) return;
      if (next && slow.length === 0) lease = await leaseWithin(ctx, trx, agent, next.freeCores, next.maxTasks);
      const now = nowIso();
      const byAttempt = new Map<number, string[]>();
      for (const i of take) {
        const c = items[i]!;
        byAttempt.set(c.attempt, [...(byAttempt.get(c.attempt) ?? []), c.taskId]);
      }
      for (const [attempt, ids] of byAttempt) await taskBatches.finishAttempts(trx, ids, attempt, { status: 'done', finished_at: now, exit_code: 0, error: null });
      const ids = take.map((i) => items[i]!.taskId);
      await taskBatches.replaceFilesOfTasks(trx, ids, take.flatMap((i) => resultFiles(items[i]!).map((f) => ({ task_id: items[i]!.taskId, path: f.path, sha256: f.sha256, size: f.size }))));
      // As completeTask on success: done, the agent kept, the lease cleared.
      await taskBatches.updateTasks(trx, ids, { status: 'done', lease_expires_at: null, finished_at: now, exit_code: 0, error: null });
      for (const i of take) accepted.push({ taskId: items[i]!.taskId, jobId: held.get(items[i]!.taskId)!.job_id });
      for (const jobId of new Set(accepted.map((a) => a.jobId))) await refreshJobStatus(trx, jobId);
      for (const i of take) results.set(i, { taskId: items[i]!.taskId, accepted: true });
    });
  }
  for (const a of accepted) ctx.bus.emit('task', a.taskId, a.jobId);
  for (const jobId of new Set(accepted.map((a) => a.jobId))) ctx.bus.emit('job', jobId);
  if (lease) announceLease(ctx, lease);

  for (const i of slow.sort((a, b) => a - b)) {
    const { taskId, ...completion } = items[i]!;
    try {
      await completeTask(ctx, agent, taskId, completion);
      results.set(i, { taskId, accepted: true });
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      results.set(i, refused(taskId, err));
    }
  }
  const answers = items.map((_, i) => results.get(i)!);
  if (!next) return { results: answers };
  return { results: answers, tasks: lease ? lease.tasks : await leaseTasks(ctx, agent, next.freeCores, next.maxTasks) };
}
