// The order one lease offers its candidate tasks in (core/priority.ts leaseOrder): priority, then
// fair share between users at equal priority, then age. The store reads candidates job by job in
// that order already; interleaving the tasks of users sharing a priority level happens here.
import { type QueuedJob, leaseOrder } from '../../core/priority.js';
import { coresRunningByUser, sharedPriorityLevels } from '../../store/repositories/tasks.js';
import type { Db } from '../../store/schema.js';

interface Candidate {
  job_id: string;
  user_id: string;
  priority: number;
  queued_at: string;
  idx: number;
  cores: number;
}

export async function fairOrder<T extends Candidate>(db: Db, candidates: T[]): Promise<T[]> {
  // One user per priority level (the common case): the store's order is the lease order.
  if (!sharedPriorityLevels(candidates)) return candidates;
  const jobs = new Map<string, QueuedJob>();
  for (const c of candidates) if (!jobs.has(c.job_id)) jobs.set(c.job_id, { id: c.job_id, userId: c.user_id, priority: c.priority, queuedAt: c.queued_at });
  return leaseOrder(candidates.map((c) => ({ ...c, jobId: c.job_id })), jobs, await coresRunningByUser(db));
}
