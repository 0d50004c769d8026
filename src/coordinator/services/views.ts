// The shapes the API answers with, built from rows. One place, so the CLI, the web app and the
// SSE streams all see the same job and task.
import { unschedulableReason } from '../../core/scheduling.js';
import { emptyCounts, type JobStatus, type TaskCounts } from '../../core/states.js';
import { kindOf } from '../kinds/index.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as dependenciesRepo from '../../store/repositories/dependencies.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { Db } from '../../store/schema.js';
import { isBigJob } from '../../store/off-thread-reads.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import type { TaskRow } from '../../store/repositories/tasks.js';
import { waitingReasons } from './waiting.js';
import type { JobCounts, JobView, TaskView } from '../../wire/index.js';
import { jobRequirementsOf, sharedJobSpecOf, templateTaskSpecOf } from '../../store/json-columns.js';

// The shapes themselves are the wire contract's (src/wire/jobs.ts, tasks.ts): the CLI and the web
// app read the same types, and the OpenAPI document describes them.
export type { JobCounts, JobView, StepStatus, StepView, TaskView } from '../../wire/index.js';

function durationMs(start: string | null, end: string | null): number | null {
  if (!start) return null;
  return (end ? Date.parse(end) : Date.now()) - Date.parse(start);
}

export function baseJobView(row: JobRow, owner: string, counts: JobCounts): JobView {
  const spec = sharedJobSpecOf(row);
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    status: row.status as JobStatus,
    owner,
    instanceType: row.instance_type,
    cores: row.cores,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    after: [],
    afterAny: row.after_any === 1,
    requirements: jobRequirementsOf(row),
    taskTimeoutSeconds: row.task_timeout_seconds,
    image: row.image,
    network: spec.network ?? false,
    requireResults: spec.requireResults ?? false,
    taskCount: row.task_count,
    counts,
    createdAt: row.created_at,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    archivedAt: row.archived_at ?? null,
    durationMs: durationMs(row.started_at, row.finished_at),
    cpuSeconds: null,
    etaSeconds: null,
    unschedulable: null,
    waiting: null,
    blockedAgents: [],
    ...(spec.render !== undefined ? { render: spec.render } : {}),
  };
}

/**
 * The task counts each job shows: of every task, or of the one step its kind counts (render: the
 * chunks, whose number is its taskCount; the preview shows as the preview).
 */
export async function jobCounts(db: Db, rows: readonly JobRow[]): Promise<Map<string, JobCounts>> {
  const byStep = new Map<number | undefined, string[]>();
  for (const row of rows) {
    const step = kindOf(row.kind).countedStep;
    byStep.set(step, [...(byStep.get(step) ?? []), row.id]);
  }
  const counts = new Map<string, JobCounts>();
  const big = rows.some(isBigJob);
  for (const [step, ids] of byStep) {
    const states = await jobsRepo.taskCountsFor(db, ids, step, big);
    // Only jobs with running tasks can have some uploading: most lists ask about none.
    const active = ids.filter((id) => (states.get(id)?.running ?? 0) > 0);
    const uploading = await jobsRepo.uploadingCountsFor(db, active, step);
    for (const [id, c] of states) {
      const u = Math.min(uploading.get(id) ?? 0, c.running);
      counts.set(id, { ...c, running: c.running - u, uploading: u });
    }
  }
  return counts;
}

/** The full view of one job: with CPU time, an ETA from measured task times, and fit. */
export async function detailedJobView(db: Db, row: JobRow, owner: string, agentFailureLimit = 3): Promise<JobView> {
  const counts = (await jobCounts(db, [row])).get(row.id) ?? { ...emptyCounts(), uploading: 0 };
  const view = baseJobView(row, owner, counts);
  const timing = await jobsRepo.jobTimingStats(db, row.id, isBigJob(row));
  view.cpuSeconds = Math.round((timing.attemptMs * row.cores) / 100) / 10;
  const remaining = counts.queued + counts.running;
  if (timing.meanDoneMs !== null && remaining > 0 && (view.status === 'running' || view.status === 'queued')) {
    // Tasks at work set the pace; uploading ones are all but done (their agents work on).
    view.etaSeconds = Math.ceil((timing.meanDoneMs * remaining) / Math.max(counts.running, 1) / 1000);
  }
  view.blockedAgents = await agentFailuresRepo.blockedAgentNames(db, row.id, agentFailureLimit);
  view.after = (await dependenciesRepo.dependenciesOf(db, row.id)).map((d) => d.id);
  view.waiting = (await waitingReasons(db, [row], new Map([[row.id, counts]]), agentFailureLimit)).get(row.id) ?? null;
  if (view.status === 'queued' || view.status === 'running' || view.status === 'created') {
    view.unschedulable = unschedulableReason(row.cores, await agentsRepo.onlineAgentCapacities(db));
  }
  await kindOf(row.kind).detail?.(db, row, view);
  return view;
}

export function taskView(row: TaskRow & { agent_name?: string | null }, maxAttempts: number): TaskView {
  return {
    id: row.id,
    jobId: row.job_id,
    index: row.idx,
    status: row.status,
    input: row.input_name,
    attempts: row.attempt,
    tries: row.tries,
    maxAttempts,
    agent: row.agent_name ?? null,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: durationMs(row.started_at, row.finished_at),
    exitCode: row.exit_code,
    // A done task never has an error: what its row keeps there is a warning (see NO_RESULTS_WARNING),
    // stored in the same column so that the hot completion path writes no more than before.
    error: row.status === 'done' ? null : row.error,
    warning: row.status === 'done' ? row.error : null,
    ...templateTaskFields(row),
  };
}

/** The template fields of a task view (none for other kinds, whose spec has no `parameters`). */
function templateTaskFields(row: TaskRow): Partial<TaskView> {
  if (!row.spec || !row.spec.startsWith('{"step"')) return {};
  const own = templateTaskSpecOf(row.spec);
  return { step: own.stepName, parameters: own.parameters, progress: row.progress, message: row.message };
}
