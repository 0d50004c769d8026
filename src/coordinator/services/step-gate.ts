// The step gate of jobs of steps (template jobs; render jobs, whose preview waits for the render):
// a step's tasks wait in `pending` until every step it depends on is done, then are queued; when a
// step it depends on has ended without finishing (a task errored or was canceled), they are
// canceled with that reason, so the job ends instead of waiting forever.
// Runs inside the transaction that changed a task, so no completion can slip between the probes.
import { nowIso } from './context.js';
import { kindOf } from '../kinds/index.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import { anyTaskIn } from '../../store/repositories/task-batches.js';
import type { Db } from '../../store/schema.js';
import type { TaskStatus } from '../../core/states.js';

/** A job's steps as the gate reads them (from its kind's `steps`). */
export interface StepGraph {
  names: string[];
  dependsOn: number[][];
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

export function graphOf(steps: readonly { name: string; dependsOn: readonly number[] }[]): StepGraph {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const d of steps[i]!.dependsOn) visit(d);
    order.push(i);
  };
  steps.forEach((_, i) => visit(i));
  return { names: steps.map((s) => s.name), dependsOn: steps.map((s) => [...s.dependsOn]), order };
}

async function anyInSteps(db: Db, jobId: string, steps: readonly number[], statuses: readonly TaskStatus[]): Promise<boolean> {
  const row = await db.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('step', 'in', [...steps]).where('status', 'in', [...statuses]).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Moves the job's waiting steps on: queues those whose dependencies are all done, cancels those
 * behind a step that ended unfinished, and (after a retry) puts queued tasks of steps whose
 * dependencies are not done back to pending. Returns how many tasks it queued.
 */
export async function advanceSteps(db: Db, jobId: string): Promise<number> {
  const graph = await stepGraph(db, jobId);
  if (!graph) return 0;
  if (!(await anyTaskIn(db, jobId, ['pending', 'queued']))) return 0;
  let queued = 0;
  const now = nowIso();
  for (const step of graph.order) {
    const deps = graph.dependsOn[step]!;
    if (deps.length === 0) continue;
    if (await anyInSteps(db, jobId, deps, ['pending', 'queued', 'running'])) {
      // Not ready: a retry may have queued this step's tasks again before their inputs exist.
      await db.updateTable('tasks').set({ status: 'pending' }).where('job_id', '=', jobId).where('step', '=', step).where('status', '=', 'queued').execute();
      continue;
    }
    if (await anyInSteps(db, jobId, deps, ['error', 'canceled'])) {
      const failed = [];
      for (const d of deps) if (await anyInSteps(db, jobId, [d], ['error', 'canceled'])) failed.push(`"${graph.names[d]}"`);
      await db
        .updateTable('tasks')
        .set({ status: 'canceled', finished_at: now, error: `step ${failed.join(', ')} did not finish, and step "${graph.names[step]}" depends on it` })
        .where('job_id', '=', jobId)
        .where('step', '=', step)
        .where('status', 'in', ['pending', 'queued'])
        .execute();
      continue;
    }
    const result = await db.updateTable('tasks').set({ status: 'queued' }).where('job_id', '=', jobId).where('step', '=', step).where('status', '=', 'pending').executeTakeFirst();
    queued += Number(result.numUpdatedRows);
  }
  return queued;
}
