// Why a queued job's tasks are not running yet: one sentence a person understands, or null when
// nothing holds it back (it starts at the next lease). Pure: the facts come from the store.
import { type OnlineAgent, agentsThatMayRun, noAgentLeftReason } from './agent-choice.js';
import { waitingForJobs } from './dependencies.js';
import { unschedulableReason } from './scheduling.js';
import type { JobStatus } from './states.js';

export interface WaitFacts {
  jobId: string;
  status: JobStatus;
  cores: number;
  /** The job's queued tasks (pending ones wait for their steps, said by the steps). */
  queued: number;
  /** Online agents taking tasks (not paused). */
  online: readonly OnlineAgent[];
  /** Online agents paused by a person (`drover worker pause`). */
  pausedOnline: number;
  /** Agents blocklisted for the job. */
  blocked: ReadonlySet<string>;
  failureLimit: number;
  /** Cores each online agent has free now (its slots less what its running tasks asked for). */
  freeCores: ReadonlyMap<string, number>;
  /** Why no online agent meets the job's requirements (core/job-requirements.ts noAgentMeets), or null. */
  requirementsUnmet: string | null;
  /** Jobs it waits for (`--after`) that have not ended as it needs. */
  waitingFor: readonly string[];
  /** Other started jobs with queued tasks that leasing serves before this one: of higher priority, and older ones of equal priority. */
  ahead: { higher: number; older: number };
  /** Why its owner's quota lets no more of their tasks start now (core/quotas.ts quotaWaitingReason), or null. */
  quota?: string | null;
}

export function waitingReason(f: WaitFacts): string | null {
  if (f.status === 'created') return `not started: \`drover job start ${f.jobId}\` queues it`;
  // A running job's queued tasks wait only for a quota to say so: the rest of this list is about starting at all.
  if (f.status === 'running') return f.queued > 0 ? (f.quota ?? null) : null;
  if (f.status !== 'queued') return null;
  if (f.waitingFor.length > 0) return waitingForJobs(f.waitingFor);
  if (f.queued === 0) return null;
  if (f.quota) return f.quota;
  if (f.online.length === 0 && f.pausedOnline > 0) return `every online agent is paused (\`drover worker resume NAME\`)`;
  const unschedulable = unschedulableReason(f.cores, f.online);
  if (unschedulable) return unschedulable;
  if (f.requirementsUnmet) return f.requirementsUnmet;
  const noneLeft = noAgentLeftReason(f.cores, f.online, f.blocked, f.failureLimit);
  if (noneLeft) return noneLeft;
  const { higher, older } = f.ahead;
  const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
  if (higher > 0) return `${jobs(higher)} of higher priority ahead${older > 0 ? ` and ${older} older of equal priority` : ''}`;
  if (older > 0) return `${jobs(older)} ahead in the queue`;
  const mayRun = agentsThatMayRun(f.cores, f.online, f.blocked);
  if (mayRun.every((a) => (f.freeCores.get(a.id) ?? 0) < f.cores)) {
    return mayRun.length === 1 ? `the one agent that may run it (${mayRun[0]!.name}) is busy` : `all ${mayRun.length} agents that may run it are busy`;
  }
  return null;
}
