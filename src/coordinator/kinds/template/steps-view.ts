// A template job's steps as its detailed view shows them: state, counts, what each waits for, and
// why no connected agent may run it.
import { deriveJobStatus, emptyCounts, type JobStatus, type TaskCounts } from '../../../core/states.js';
import { hostFactsOf, hostRequirementProblem } from '../../../core/templates/host-match.js';
import * as agentsRepo from '../../../store/repositories/agents.js';
import { isBigJob } from '../../../store/off-thread-reads.js';
import * as jobsRepo from '../../../store/repositories/jobs.js';
import type { JobRow } from '../../../store/repositories/jobs.js';
import type { Db } from '../../../store/schema.js';
import type { StepStatus, StepView } from '../../../wire/templates.js';
import { jobSpecOf } from '../../../store/json-columns.js';

// A step as the job view shows it is part of the wire contract.
export type { StepStatus, StepView } from '../../../wire/templates.js';

/** A step's state from its tasks' counts: `pending` while all of them wait for other steps. */
export function stepStatus(counts: TaskCounts): StepStatus {
  const total = counts.pending + counts.queued + counts.running + counts.done + counts.error + counts.canceled;
  if (total > 0 && counts.pending === total) return 'pending';
  if (total > 0 && counts.canceled === total) return 'canceled';
  return deriveJobStatus('queued', counts, counts.running + counts.done + counts.error > 0);
}

export async function stepViews(db: Db, row: JobRow): Promise<StepView[]> {
  const spec = jobSpecOf(row, 'template');
  const counts = await jobsRepo.stepCountsFor(db, row.id, isBigJob(row));
  const live = row.status === 'queued' || row.status === 'running' || row.status === 'created';
  const hosts = live && spec.steps.some((s) => s.hostRequirements) ? (await agentsRepo.onlineAgentHosts(db)).map((a) => ({ name: a.name, host: hostFactsOf(a) })) : [];
  return spec.steps.map((s, index) => {
    const c = counts.get(index) ?? emptyCounts();
    let unschedulable: string | null = null;
    if (live && s.hostRequirements && c.pending + c.queued > 0) {
      const problems = hosts.map((h) => hostRequirementProblem(s.hostRequirements, h.host));
      if (hosts.length === 0) unschedulable = 'no agent is connected; tasks wait until one joins';
      else if (problems.every((p) => p !== null)) unschedulable = `no connected agent meets the host requirements of step "${s.name}": ${problems[0]}`;
    }
    return { index, name: s.name, status: stepStatus(c), taskCount: s.taskCount, counts: c, dependsOn: s.dependsOn.map((d) => spec.steps[d]!.name), unschedulable };
  });
}
