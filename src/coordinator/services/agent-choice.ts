// The leasing rules about which agent runs a job's tasks beyond fit (see core/agent-choice.ts):
// a failed attempt is retried on another agent when one may run it, and a job whose queued tasks no
// online agent may run any more (each is blocklisted for it) errors with that reason.
import { agentsThatMayRun, leaveToAnotherAgent, noAgentLeftReason } from '../../core/agent-choice.js';
import { lastUncountedAttempt } from '../../core/completion-outcome.js';
import * as agentFailuresRepo from '../../store/repositories/agent-failures.js';
import * as agentsRepo from '../../store/repositories/agents.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { Db } from '../../store/schema.js';
import { type ServiceContext, nowIso } from './context.js';
import { refreshJobStatus } from './jobs.js';

interface Candidate {
  id: string;
  job_id: string;
  attempt: number;
  tries: number;
  cores: number;
}

/**
 * For one lease's candidates: whether an agent may take a candidate, or null when every agent may
 * take every one (no candidate failed before: the common case, costing nothing).
 */
export async function retryPlacement(db: Db, candidates: readonly Candidate[], failureLimit: number): Promise<((agentId: string, c: Candidate) => boolean) | null> {
  const failed = candidates.filter((c) => c.tries > 0);
  if (failed.length === 0) return null;
  const failedOn = await agentFailuresRepo.failedAgentsOfTasks(db, failed.map((c) => ({ id: c.id, sinceAttempt: lastUncountedAttempt(c) })));
  if (failedOn.size === 0) return null;
  const online = await agentsRepo.onlineAgentSlots(db);
  const jobs = [...new Set(failed.map((c) => c.job_id))];
  const blocked = await agentFailuresRepo.blockedAgentIds(db, jobs, failureLimit);
  return (agentId, c) => {
    const agents = failedOn.get(c.id);
    return !agents || !leaveToAnotherAgent(agentId, agents, agentsThatMayRun(c.cores, online, blocked.get(c.job_id) ?? new Set()));
  };
}

/**
 * Errors the job's queued (and pending) tasks when no online agent may run them any more, inside
 * the caller's transaction; its running tasks end as they will. Returns whether it did.
 */
export async function endJobIfNoAgentLeft(ctx: ServiceContext, db: Db, jobId: string): Promise<boolean> {
  const limit = ctx.config.agentFailureLimit;
  const blocked = (await agentFailuresRepo.blockedAgentIds(db, [jobId], limit)).get(jobId)!;
  if (blocked.size === 0) return false;
  const job = await jobsRepo.findJob(db, jobId);
  if (!job || (job.status !== 'queued' && job.status !== 'running')) return false;
  const reason = noAgentLeftReason(job.cores, await agentsRepo.onlineAgentSlots(db), blocked, limit);
  if (!reason) return false;
  const ended = await db
    .updateTable('tasks')
    .set({ status: 'error', error: reason, finished_at: nowIso(), agent_id: null, lease_expires_at: null })
    .where('job_id', '=', jobId)
    .where('status', 'in', ['queued', 'pending'])
    .executeTakeFirst();
  return Number(ended.numUpdatedRows) > 0;
}

/**
 * The periodic check: jobs whose last agent that could run them went away. Emits the jobs it
 * changed. (Completions and expiries check their own job at once.)
 */
export async function endJobsWithoutAgents(ctx: ServiceContext): Promise<void> {
  for (const jobId of await agentFailuresRepo.liveJobsWithBlocks(ctx.db, ctx.config.agentFailureLimit)) {
    const changed = await ctx.db.transaction().execute(async (trx) => {
      await jobsRepo.lockJob(trx, jobId);
      if (!(await endJobIfNoAgentLeft(ctx, trx, jobId))) return false;
      await refreshJobStatus(trx, jobId);
      return true;
    });
    if (changed) ctx.bus.emit('job', jobId);
  }
}
