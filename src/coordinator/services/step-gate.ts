// The step gate of jobs of steps (template jobs; render jobs, whose preview follows the render):
// a step's tasks wait in `pending` until every step it depends on is done, then are queued; when a
// step it depends on has ended without finishing (a task errored or was canceled), they are
// canceled with that reason, so the job ends instead of waiting forever. A step that `follows`
// (JobStep) is queued once every task it depends on has started, and its tasks under way are
// canceled too when one of those ends unfinished (they wait for output that will not come).
// Runs inside the transaction that changed a task (or leased one), so no completion can slip
// between the probes.
import { nowIso } from './context.js';
import { kindOf } from '../kinds/index.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import { anyTaskIn } from '../../store/repositories/task-batches.js';
import type { Db } from '../../store/schema.js';
import type { TaskStatus } from '../../core/states.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import type { JobStep } from '../kinds/kind.js';

/** A job's steps as the gate reads them (from its kind's `steps`). */
export interface StepGraph {
  names: string[];
  dependsOn: number[][];
  /** Per step: queued once its dependencies' tasks have all started (JobStep.follows). */
  follows: boolean[];
  /** Steps in an order where each comes after those it depends on. */
  order: number[];
}

const graphs = new Map<string, StepGraph | null>();
const GRAPH_CACHE_MAX = 1000;

/** The job's step graph (a job's spec never changes, so it is read once), or null for jobs without dependencies. */
async function stepGraph(db: Db, jobId: string): Promise<StepGraph | null> {
  if (graphs.has(jobId)) return graphs.get(jobId)!;
  const job = await jobsRepo.findJob(db, jobId);
  let graph: StepGraph | null = null;
  const steps = job ? kindOf(job.kind).steps?.(JSON.parse(job.spec)) : undefined;
  if (steps?.some((s) => s.dependsOn.length > 0)) graph = graphOf(steps);
  if (graphs.size >= GRAPH_CACHE_MAX) graphs.delete(graphs.keys().next().value!);
  graphs.set(jobId, graph);
  return graph;
}

export function graphOf(steps: readonly JobStep[]): StepGraph {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const d of steps[i]!.dependsOn) visit(d);
    order.push(i);
  };
  steps.forEach((_, i) => visit(i));
  return { names: steps.map((s) => s.name), dependsOn: steps.map((s) => [...s.dependsOn]), follows: steps.map((s) => s.follows === true), order };
}

async function anyInSteps(db: Db, jobId: string, steps: readonly number[], statuses: readonly TaskStatus[]): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('step', 'in', [...steps]).where('status', 'in', [...statuses]).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Moves the job's waiting steps on: queues those whose dependencies are all done (or, for steps
 * that follow, all started), cancels those behind a step that ended unfinished, and (after a retry)
 * puts queued tasks of steps whose dependencies are not ready back to pending. Returns how many
 * tasks it queued.
 */
export async function advanceSteps(db: Db, jobId: string): Promise<number> {
  const graph = await stepGraph(db, jobId);
  if (!graph) return 0;
  if (!(await anyTaskIn(db, jobId, ['pending', 'queued', ...(graph.follows.includes(true) ? (['running'] as const) : [])]))) return 0;
  let queued = 0;
  const now = nowIso();
  for (const step of graph.order) {
    const deps = graph.dependsOn[step]!;
    if (deps.length === 0) continue;
    const follows = graph.follows[step]!;
    if (await anyInSteps(db, jobId, deps, follows ? ['pending', 'queued'] : ['pending', 'queued', 'running'])) {
      // Not ready: a retry may have queued this step's tasks again before their inputs exist.
      await db.updateTable('tasks').set({ status: 'pending' }).where('job_id', '=', jobId).where('step', '=', step).where('status', '=', 'queued').execute();
      // A following task under way gives its agent's cores back until every task it follows has
      // started again: holding them, it could keep the only agent that may run the retry waiting on itself.
      if (follows) await restartUnderWay(db, jobId, step, now, `a task of step ${deps.map((d) => `"${graph.names[d]}"`).join(', ')} is queued again: step "${graph.names[step]}" starts over once it has started`);
      continue;
    }
    if (await anyInSteps(db, jobId, deps, ['error', 'canceled'])) {
      const failed = [];
      for (const d of deps) if (await anyInSteps(db, jobId, [d], ['error', 'canceled'])) failed.push(`"${graph.names[d]}"`);
      const error = `step ${failed.join(', ')} did not finish, and step "${graph.names[step]}" depends on it`;
      if (follows) await cancelUnderWay(db, jobId, step, now, error);
      await db.updateTable('tasks').set({ status: 'canceled', finished_at: now, error }).where('job_id', '=', jobId).where('step', '=', step).where('status', 'in', ['pending', 'queued']).execute();
      continue;
    }
    const result = await db.updateTable('tasks').set({ status: 'queued' }).where('job_id', '=', jobId).where('step', '=', step).where('status', '=', 'pending').executeTakeFirst();
    queued += Number(result.numUpdatedRows);
  }
  return queued;
}

/** Cancels the step's running tasks (their agents hear so at their next heartbeat, and stop them). */
async function cancelUnderWay(db: Db, jobId: string, step: number, now: string, error: string): Promise<void> {
  for (const t of await endAttemptsUnderWay(db, jobId, step, now, error)) {
    await db.updateTable('tasks').set({ status: 'canceled', finished_at: now, lease_expires_at: null, error }).where('id', '=', t.id).where('status', '=', 'running').execute();
  }
}

/** Puts the step's running tasks back to pending, their attempts canceled (not counted against their attempts). */
async function restartUnderWay(db: Db, jobId: string, step: number, now: string, error: string): Promise<void> {
  for (const t of await endAttemptsUnderWay(db, jobId, step, now, error)) {
    await db
      .updateTable('tasks')
      .set({ status: 'pending', agent_id: null, lease_expires_at: null, tries: Math.max(0, t.tries - 1) })
      .where('id', '=', t.id)
      .where('status', '=', 'running')
      .execute();
  }
}

/** Ends the attempts of the step's running tasks as canceled; returns those tasks. */
async function endAttemptsUnderWay(db: Db, jobId: string, step: number, now: string, error: string) {
  const running = await db.selectFrom('tasks').select(['id', 'attempt', 'tries']).where('job_id', '=', jobId).where('step', '=', step).where('status', '=', 'running').execute();
  for (const t of running) await tasksRepo.finishAttempt(db, t.id, t.attempt, { status: 'canceled', finished_at: now, exit_code: null, error });
  return running;
}

/**
 * After a lease: queues the steps that follow a step whose last task has just started. Cheap for
 * every other job (its step graph is cached, and only graphs with a following step read more).
 */
export async function advanceFollowingSteps(db: Db, jobId: string): Promise<number> {
  const graph = await stepGraph(db, jobId);
  if (!graph?.follows.includes(true)) return 0;
  return advanceSteps(db, jobId);
}
