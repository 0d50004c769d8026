// How often each agent failed each job's tasks; agents at the limit are blocklisted for the job.
import { sql } from 'kysely';
import type { Db } from '../schema.js';
import { inLists } from '../statement-shapes.js';

/** Counts one more failed attempt of `agentId` on `jobId`; returns the new count. */
export async function recordAgentFailure(db: Db, jobId: string, agentId: string): Promise<number> {
  await db
    .insertInto('job_agent_failures')
    .values({ job_id: jobId, agent_id: agentId, failures: 1 })
    .onConflict((oc) => oc.columns(['job_id', 'agent_id']).doUpdateSet({ failures: sql`job_agent_failures.failures + 1` }))
    .execute();
  const row = await db.selectFrom('job_agent_failures').select('failures').where('job_id', '=', jobId).where('agent_id', '=', agentId).executeTakeFirst();
  return Number(row?.failures ?? 0);
}

/** Which of `agentIds` are blocklisted for some job (at least `limit` failures on it). */
export async function agentsWithBlocks(db: Db, agentIds: readonly string[], limit: number): Promise<Set<string>> {
  const blocked = new Set<string>();
  for (const part of inLists(agentIds)) {
    const rows = await db.selectFrom('job_agent_failures').select('agent_id').distinct().where('agent_id', 'in', part).where('failures', '>=', limit).execute();
    for (const r of rows) blocked.add(r.agent_id);
  }
  return blocked;
}

/** A person retried the job: every agent gets another chance. */
export async function forgetAgentFailures(db: Db, jobId: string): Promise<void> {
  await db.deleteFrom('job_agent_failures').where('job_id', '=', jobId).execute();
}

/** Names of the agents blocklisted for the job (at least `limit` failures). */
export async function blockedAgentNames(db: Db, jobId: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('job_agent_failures')
    .leftJoin('agents', 'agents.id', 'job_agent_failures.agent_id')
    .select(['job_agent_failures.agent_id', 'agents.name'])
    .where('job_agent_failures.job_id', '=', jobId)
    .where('job_agent_failures.failures', '>=', limit)
    .orderBy('agents.name')
    .execute();
  return rows.map((r) => r.name ?? r.agent_id);
}

/**
 * How many different agents a task has failed on (errored or lost attempts) among its attempts after
 * `sinceAttempt`: a person's retry starts the count afresh.
 */
export async function distinctFailedAgents(db: Db, taskId: string, sinceAttempt = 0): Promise<number> {
  const row = await db
    .selectFrom('task_attempts')
    .select(sql<number>`count(distinct agent_id)`.as('n'))
    .where('task_id', '=', taskId)
    .where('attempt', '>', sinceAttempt)
    .where('status', 'in', ['error', 'lost'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** For each of `jobIds`, the agents blocklisted for it (at least `limit` failures). */
export async function blockedAgentIds(db: Db, jobIds: readonly string[], limit: number): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>(jobIds.map((id) => [id, new Set<string>()]));
  for (const part of inLists(jobIds)) {
    const rows = await db.selectFrom('job_agent_failures').select(['job_id', 'agent_id']).where('job_id', 'in', part).where('failures', '>=', limit).execute();
    for (const r of rows) out.get(r.job_id)?.add(r.agent_id);
  }
  return out;
}

/** Started jobs (queued or running) some agent is blocklisted for. */
export async function liveJobsWithBlocks(db: Db, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('job_agent_failures')
    .innerJoin('jobs', 'jobs.id', 'job_agent_failures.job_id')
    .select('job_agent_failures.job_id')
    .distinct()
    .where('job_agent_failures.failures', '>=', limit)
    .where('jobs.status', 'in', ['queued', 'running'])
    .execute();
  return rows.map((r) => r.job_id);
}

/**
 * For each task, the agents its failed attempts (errored or lost) ran on, counting only attempts
 * after its `sinceAttempt`: a person's retry starts afresh.
 */
export async function failedAgentsOfTasks(db: Db, tasks: readonly { id: string; sinceAttempt: number }[]): Promise<Map<string, Set<string>>> {
  const since = new Map(tasks.map((t) => [t.id, t.sinceAttempt]));
  const out = new Map<string, Set<string>>();
  for (const part of inLists(tasks.map((t) => t.id))) {
    const rows = await db.selectFrom('task_attempts').select(['task_id', 'agent_id', 'attempt']).where('task_id', 'in', part).where('status', 'in', ['error', 'lost']).execute();
    for (const r of rows) {
      if (r.attempt <= (since.get(r.task_id) ?? 0)) continue;
      let set = out.get(r.task_id);
      if (!set) out.set(r.task_id, (set = new Set()));
      set.add(r.agent_id);
    }
  }
  return out;
}
