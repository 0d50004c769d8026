// How a leased attempt ends: completed by its agent (one at a time; dispatch stores plain successes
// set at a time) or released by an agent shutting down. A result is accepted only from the agent
// that holds the task's current lease at its current attempt, so each task's final results come
// from exactly one attempt. What an attempt makes of its task is core/completion-outcome.ts's
// decision; here is the reading and writing around it.
import { type AttemptVerdict, type TaskOutcome, judgeAttempt, lastUncountedAttempt, reportsSuccess, taskOutcome, type ReportedAttempt } from '../../core/completion-outcome.js';
import { relativePathProblem } from '../../core/inputs.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { transact } from '../../store/group-commit.js';
import type { Db } from '../../store/schema.js';
import { badRequest, leaseLost } from '../errors.js';
import { kindOf } from '../kinds/index.js';
import { endJobIfNoAgentLeft } from './agent-choice.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, nowIso } from './context.js';
import { refreshJobStatus } from './jobs.js';
import { advanceFollowingSteps } from './step-gate.js';
import { wakeForQuotas } from './quotas.js';

export interface ResultFile {
  path: string;
  sha256: string;
  size: number;
}

export interface Completion {
  attempt: number;
  exitCode: number | null;
  error?: string;
  /** A success that left something out (a render's preview that could not be made): kept as the task's warning. */
  warning?: string;
  files: ResultFile[];
  stdout: { sha256: string; size: number };
  stderr: { sha256: string; size: number };
}

/** A task with its job's owner, attempts allowance and kind, as an ending attempt reads it. */
export type EndingTaskRow = NonNullable<Awaited<ReturnType<typeof tasksRepo.findTaskWithOwner>>>;

/** What a completion reports of its attempt, as core/completion-outcome.ts judges it. */
export function reportOf(c: Completion): ReportedAttempt {
  return { exitCode: c.exitCode, error: c.error, warning: c.warning, resultFiles: c.files.length, stdoutBytes: c.stdout.size };
}

/** A completion's files: those it lists, then its stdout and stderr. */
export function resultFiles(c: Completion): ResultFile[] {
  return [...c.files, { path: 'stdout.txt', ...c.stdout }, { path: 'stderr.txt', ...c.stderr }];
}

/** Why a completion's file list is refused (400): a path leading out of the task, or one listed twice. */
export function filesProblem(c: Completion): string | null {
  // stdout.txt and stderr.txt are the coordinator's own names (resultFiles): only the listed files
  // are checked, against them too. A task's completion usually lists none: then nothing is to check.
  if (c.files.length === 0) return null;
  const seen = new Set<string>(['stdout.txt', 'stderr.txt']);
  for (const f of c.files) {
    const problem = relativePathProblem(f.path);
    if (problem) return problem;
    if (seen.has(f.path)) return `result path "${f.path}" is listed twice`;
    seen.add(f.path);
  }
  return null;
}

/** Why a completion is refused (400) when some of its files are not in the blob store. */
export function notUploaded(missing: readonly ResultFile[]): string {
  return `result files were not uploaded first: ${missing.slice(0, 5).map((f) => f.path).join(', ')}`;
}

/** The task, if `agent` holds its lease at `attempt`; otherwise the agent lost it. */
async function heldTask(db: Db, agent: AgentPrincipal, taskId: string, attempt: number): Promise<EndingTaskRow> {
  await tasksRepo.lockTask(db, taskId);
  const task = await tasksRepo.findTaskWithOwner(db, taskId);
  if (!task || task.status !== 'running' || task.agent_id !== agent.id || task.attempt !== attempt) throw leaseLost(taskId);
  return task;
}

/** Judges one completion alone: what its kind checks (render: the frames), retries and blocklists. */
export async function completeTask(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, c: Completion): Promise<void> {
  const problem = filesProblem(c);
  if (problem) throw badRequest(problem);
  const all = resultFiles(c);
  const known = await blobsRepo.knownBlobs(ctx.db, all.map((f) => f.sha256));
  const missing = all.filter((f) => !known.has(f.sha256));
  if (missing.length > 0) throw badRequest(notUploaded(missing));

  let jobId = '';
  let requeued = false;
  await transact(ctx.db, async (trx) => {
    const task = await heldTask(trx, agent, taskId, c.attempt);
    jobId = task.job_id;
    const now = nowIso();
    const kind = kindOf(task.job_kind);
    const report = reportOf(c);
    const successProblem = reportsSuccess(report) && kind.successProblem ? await kind.successProblem(trx, task) : null;
    const verdict = judgeAttempt(report, { successProblem, warnsWhenNothingProduced: kind.warnsWhenNothingProduced });
    ({ requeued } = await endAttempt(ctx, trx, task, verdict, { exitCode: c.exitCode, files: all }, now));
  });
  ctx.bus.emit('task', taskId, jobId);
  ctx.bus.emit('job', jobId);
  // Only a retry makes work for others: announcing every success woke every idle agent's long-poll
  // to lease nothing (a herd of thousands of empty leases as a big job drained).
  if (requeued) ctx.bus.emit('work');
  else wakeForQuotas(ctx);
}

/**
 * Ends the task's current attempt as `verdict` says, inside the caller's transaction, and stores
 * what the task becomes (core/completion-outcome.ts): a failure counts against its agent first (the
 * blocklist), a task ending for good is settled by its kind and keeps this attempt's files, and the
 * job's status follows. `reported` is what the agent reported; null when its lease expired. `now`
 * stamps the attempt's and the task's end.
 * `requeued`: the task, or a step it unblocked, went back to the queue (work for other agents).
 */
export async function endAttempt(
  ctx: ServiceContext,
  trx: Db,
  task: EndingTaskRow,
  verdict: AttemptVerdict,
  reported: { exitCode: number | null; files: readonly ResultFile[] } | null,
  now: string,
): Promise<{ outcome: TaskOutcome; requeued: boolean }> {
  await tasksRepo.finishAttempt(trx, task.id, task.attempt, { status: verdict.attemptStatus, finished_at: now, exit_code: reported?.exitCode ?? null, error: verdict.attemptError });
  let outcome: TaskOutcome;
  if (verdict.succeeded) outcome = taskOutcome(verdict);
  else {
    const failedOnAgents = task.agent_id ? await countFailure(ctx, trx, task, task.agent_id) : null;
    outcome = taskOutcome(verdict, { countedAttempts: task.tries, maxAttempts: task.max_attempts, failedOnAgents, agentFailureLimit: ctx.config.agentFailureLimit });
  }
  const settle = kindOf(task.job_kind).settleTask;
  if (outcome.status !== 'queued' && settle) {
    const settled = await settle(trx, task, { status: outcome.status, error: outcome.error, files: reported?.files ?? [] });
    outcome = { status: settled.status, error: settled.error };
  }
  const retried = outcome.status === 'queued';
  // A retried task keeps no files from the failed attempt; an ended task keeps its last attempt's.
  if (!retried && reported) await tasksRepo.replaceTaskFiles(trx, task.id, reported.files);
  await tasksRepo.updateTask(trx, task.id, {
    status: outcome.status,
    agent_id: retried ? null : task.agent_id,
    lease_expires_at: null,
    finished_at: retried ? null : now,
    ...(reported ? { exit_code: reported.exitCode } : {}),
    error: outcome.error,
  });
  // That failure may have blocklisted the last online agent that could run the job's tasks.
  if (!verdict.succeeded) await endJobIfNoAgentLeft(ctx, trx, task.job_id);
  let requeued = retried;
  await refreshJobStatus(trx, task.job_id, () => (requeued = true));
  return { outcome, requeued };
}

/**
 * Counts a failed attempt against its agent (past the limit it gets no more of the job's tasks) and
 * returns on how many different agents the task has now failed since a person last queued it.
 */
async function countFailure(ctx: ServiceContext, db: Db, task: EndingTaskRow, agentId: string): Promise<number> {
  await agentFailuresRepo.recordAgentFailure(db, task.job_id, agentId);
  return agentFailuresRepo.distinctFailedAgents(db, task.id, lastUncountedAttempt(task));
}

/** An agent that shuts down gives its task back; the attempt does not count against the task. */
export async function releaseTask(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, attempt: number, reason: string): Promise<void> {
  let jobId = '';
  await transact(ctx.db, async (trx) => {
    const task = await heldTask(trx, agent, taskId, attempt);
    jobId = task.job_id;
    await tasksRepo.finishAttempt(trx, taskId, attempt, { status: 'interrupted', finished_at: nowIso(), exit_code: null, error: reason });
    await tasksRepo.updateTask(trx, taskId, { status: 'queued', agent_id: null, lease_expires_at: null, tries: Math.max(0, task.tries - 1) });
    // A render's preview follows its chunks: a chunk back in the queue sends it back to waiting.
    await advanceFollowingSteps(trx, task.job_id);
  });
  ctx.bus.emit('task', taskId, jobId);
  ctx.bus.emit('work');
}
