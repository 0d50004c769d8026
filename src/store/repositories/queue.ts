// The farm's queue as the scheduler sees it: what runs where, and which jobs are served first.
import type { Db } from '../schema.js';

/** Cores asked by the tasks running on each agent. */
export async function coresRunningByAgent(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .select(['tasks.agent_id', (eb) => eb.fn.sum<number>('jobs.cores').as('cores')])
    .where('tasks.status', '=', 'running')
    .groupBy('tasks.agent_id')
    .execute();
  return new Map(rows.flatMap((r) => (r.agent_id ? [[r.agent_id, Number(r.cores)] as const] : [])));
}

/**
 * Other started jobs with queued tasks that leasing serves before `job`: those of higher priority,
 * and those of equal priority queued earlier (ties broken by id, as leasing does). Fair share may
 * still put this job before the latter when its owner has fewer cores running.
 */
export async function jobsAhead(db: Db, job: { id: string; priority: number; queued_at: string | null }): Promise<{ higher: number; older: number }> {
  if (!job.queued_at) return { higher: 0, older: 0 };
  const queuedAt = job.queued_at;
  const rows = await db
    .selectFrom('jobs')
    .select([(eb) => eb('jobs.priority', '>', job.priority).as('higher'), (eb) => eb.fn.countAll<number>().as('n')])
    .where('jobs.status', 'in', ['queued', 'running'])
    .where('jobs.held', '=', 0)
    .where('jobs.id', '!=', job.id)
    .where((eb) =>
      eb.or([
        eb('jobs.priority', '>', job.priority),
        eb.and([eb('jobs.priority', '=', job.priority), eb.or([eb('jobs.queued_at', '<', queuedAt), eb.and([eb('jobs.queued_at', '=', queuedAt), eb('jobs.id', '<', job.id)])])]),
      ]),
    )
    .where(({ exists, selectFrom }) => exists(selectFrom('tasks').select('tasks.id').whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', '=', 'queued')))
    .groupBy('higher')
    .execute();
  let higher = 0;
  let older = 0;
  for (const r of rows) {
    if (r.higher && Number(r.higher) !== 0) higher += Number(r.n);
    else older += Number(r.n);
  }
  return { higher, older };
}
