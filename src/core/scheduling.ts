// Scheduling fit: which queued tasks an agent can take now, and whether a job can ever run.

export interface Candidate {
  taskId: string;
  cores: number;
}

/**
 * Takes candidates in order while their core requests fit the agent's free cores. A task that does
 * not fit is skipped, not waited for, so a small task behind a big one still runs (backfill).
 * `largest` caps each task's cores on its own: tasks prefetched to run one after another must each
 * fit the agent, though together they may ask for more cores than it has.
 */
export function fitTasks<T extends Candidate>(freeCores: number, candidates: Iterable<T>, maxTasks = Infinity, largest = freeCores, admit?: (candidate: T) => boolean): T[] {
  const chosen: T[] = [];
  let free = freeCores;
  for (const candidate of candidates) {
    if (chosen.length >= maxTasks || free <= 0) break;
    // `admit` is asked only about a task that fits, and counts it as taken when it says yes (quotas).
    if (candidate.cores <= free && candidate.cores <= largest && (!admit || admit(candidate))) {
      chosen.push(candidate);
      free -= candidate.cores;
    }
  }
  return chosen;
}

export interface AgentCapacity {
  name: string;
  slots: number;
}

/** Why no connected agent could ever run a task asking `cores`, or null when one could. */
export function unschedulableReason(cores: number, agents: readonly AgentCapacity[]): string | null {
  if (agents.length === 0) return 'no agent is connected; tasks wait until one joins';
  const largest = Math.max(...agents.map((a) => a.slots));
  if (cores > largest) {
    return `each task asks for ${cores} cores but the largest connected agent offers ${largest}; choose a smaller instance type or add a bigger agent`;
  }
  return null;
}
