// Prefetch must not make an urgent job wait: an agent gives back the tasks it holds unstarted when
// a job of higher priority has queued tasks it could run. Asked at each heartbeat.
import type { Db } from '../../store/schema.js';
import type { AgentPrincipal, TaskAttempt } from './agents.js';

/** Of the task attempts `agent` holds unstarted, those a job of higher priority should pass. */
export async function heldToGiveBack(db: Db, agent: AgentPrincipal, held: readonly TaskAttempt[]): Promise<TaskAttempt[]> {
  if (held.length === 0) return [];
  const rows = await db
    .selectFrom('tasks')
    .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
    .select(['tasks.id', 'tasks.attempt', 'tasks.agent_id', 'tasks.status', 'jobs.priority'])
    .where('tasks.id', 'in', held.map((h) => h.taskId))
    .execute();
  const mine = rows.filter((r) => r.status === 'running' && r.agent_id === agent.id && held.some((h) => h.taskId === r.id && h.attempt === r.attempt));
  if (mine.length === 0) return [];
  const lowest = Math.min(...mine.map((r) => r.priority));
  // The most urgent job with queued tasks this agent is big enough for, above what it holds.
  const urgent = await db
    .selectFrom('jobs')
    .select('jobs.priority')
    .where('jobs.status', 'in', ['queued', 'running'])
    .where('jobs.held', '=', 0)
    .where('jobs.priority', '>', lowest)
    .where('jobs.cores', '<=', agent.slots)
    .where(({ exists, selectFrom }) => exists(selectFrom('tasks').select('tasks.id').whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', '=', 'queued')))
    .orderBy('jobs.priority', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!urgent) return [];
  return mine.filter((r) => r.priority < urgent.priority).map((r) => ({ taskId: r.id, attempt: r.attempt }));
}
