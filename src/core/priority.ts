// Job priority and the order leasing serves queued tasks in: the highest priority first; at equal
// priority the user with the fewest cores running (fair share); then the oldest job, and a job's
// tasks by their index. Pure: the store reads the candidates, this orders them.

export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 100;
export const DEFAULT_PRIORITY = 50;

/** Why `value` is not a priority, or null. */
export function priorityProblem(value: number): string | null {
  if (!Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) return `the priority must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher runs first); got ${value}`;
  return null;
}

export interface QueuedJob {
  id: string;
  userId: string;
  priority: number;
  /** When it was queued (ISO time): older first. */
  queuedAt: string;
}

/** Older first; the id breaks ties, as the store's order does. */
function byAge(a: QueuedJob, b: QueuedJob): number {
  return a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Jobs in the order their tasks are read for leasing: by priority, then by their user's cores
 * running (fewest first), then by age. (The tasks read are then interleaved by `leaseOrder`.)
 */
export function jobOrder<J extends QueuedJob>(jobs: readonly J[], runningCores: ReadonlyMap<string, number>): J[] {
  return [...jobs].sort((a, b) => b.priority - a.priority || (runningCores.get(a.userId) ?? 0) - (runningCores.get(b.userId) ?? 0) || byAge(a, b));
}

export interface QueuedTask {
  jobId: string;
  idx: number;
  cores: number;
}

/**
 * Candidate tasks in the order leasing offers them. Repeatedly: among the tasks left, the highest
 * priority; at that priority the user with the fewest cores running, counting the tasks placed before
 * (so two users at equal priority take turns by cores); then that user's oldest job, and its task of
 * lowest index. `jobs` describes every job a task belongs to.
 */
export function leaseOrder<T extends QueuedTask>(tasks: readonly T[], jobs: ReadonlyMap<string, QueuedJob>, runningCores: ReadonlyMap<string, number>): T[] {
  // Each job's tasks by index, and the jobs of each priority level.
  const byJob = new Map<string, T[]>();
  for (const t of tasks) {
    let list = byJob.get(t.jobId);
    if (!list) byJob.set(t.jobId, (list = []));
    list.push(t);
  }
  for (const list of byJob.values()) list.sort((a, b) => a.idx - b.idx);
  const levels = [...new Set([...byJob.keys()].map((id) => jobs.get(id)!.priority))].sort((a, b) => b - a);
  const cores = new Map(runningCores);
  const out: T[] = [];
  for (const level of levels) {
    // This level's jobs, oldest first, grouped by user.
    const ofUser = new Map<string, QueuedJob[]>();
    for (const job of [...byJob.keys()].map((id) => jobs.get(id)!).filter((j) => j.priority === level).sort(byAge)) {
      let list = ofUser.get(job.userId);
      if (!list) ofUser.set(job.userId, (list = []));
      list.push(job);
    }
    for (;;) {
      // The user with the fewest cores running (ties: the one whose oldest job is older).
      let best: string | null = null;
      for (const [user, list] of ofUser) {
        if (list.length === 0) continue;
        if (best === null) {
          best = user;
          continue;
        }
        const diff = (cores.get(user) ?? 0) - (cores.get(best) ?? 0);
        if (diff < 0 || (diff === 0 && byAge(list[0]!, ofUser.get(best)![0]!) < 0)) best = user;
      }
      if (best === null) break;
      const list = ofUser.get(best)!;
      const job = list[0]!;
      const queue = byJob.get(job.id)!;
      const task = queue.shift()!;
      if (queue.length === 0) list.shift();
      out.push(task);
      cores.set(best, (cores.get(best) ?? 0) + task.cores);
    }
  }
  return out;
}
