// Which agents may still run a job's tasks: a failed attempt goes to another agent when one could
// take it, and a job no online agent may run any more ends instead of waiting in silence. Pure.

export interface OnlineAgent {
  id: string;
  name: string;
  /** Cores it offers: the largest task it can run. */
  slots: number;
}

/** Online agents big enough for tasks asking `cores` and not blocklisted for the job. */
export function agentsThatMayRun(cores: number, online: readonly OnlineAgent[], blocked: ReadonlySet<string>): OnlineAgent[] {
  return online.filter((a) => a.slots >= cores && !blocked.has(a.id));
}

/**
 * Why a job's queued tasks can never run on the farm as it is, or null: some online agent is big
 * enough for them, and every such agent is blocklisted for the job. (No online agent, or none big
 * enough, is a wait for an agent to join, said elsewhere: that is not the job's fault.)
 */
export function noAgentLeftReason(cores: number, online: readonly OnlineAgent[], blocked: ReadonlySet<string>, failureLimit: number): string | null {
  const bigEnough = online.filter((a) => a.slots >= cores);
  if (bigEnough.length === 0 || agentsThatMayRun(cores, online, blocked).length > 0) return null;
  const names = bigEnough.map((a) => a.name).sort();
  const who = names.length === 1 ? `the only online agent (${names[0]}) has` : `every online agent (${names.join(', ')}) has`;
  return `no online agent may run this job any more: ${who} failed ${failureLimit} of its tasks; fix the cause, then \`drover job retry\``;
}

/**
 * Whether `agentId` should leave a failed task to another agent: it failed the task before and an
 * agent that may run it (`mayRun`, see agentsThatMayRun) has not. A task that failed on every agent
 * that may run it goes to any of them.
 */
export function leaveToAnotherAgent(agentId: string, failedOn: ReadonlySet<string>, mayRun: readonly OnlineAgent[]): boolean {
  return failedOn.has(agentId) && mayRun.some((a) => !failedOn.has(a.id));
}
