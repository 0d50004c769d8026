// The host requirements of template jobs' steps, read once per job (a job's spec never changes):
// leasing asks them for every candidate task of a template job.
import type { HostRequirements } from '../../core/templates/template.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import type { Db } from '../../store/schema.js';
import { jobSpecOf } from '../../store/json-columns.js';

const cache = new Map<string, (HostRequirements | null)[] | null>();
const CACHE_MAX = 2000;

/** Each step's requirements (null: none), or null when no step of the job has any. */
export async function stepRequirements(db: Db, jobId: string): Promise<(HostRequirements | null)[] | null> {
  if (cache.has(jobId)) return cache.get(jobId)!;
  const job = await jobsRepo.findJob(db, jobId);
  let reqs: (HostRequirements | null)[] | null = null;
  if (job?.kind === 'template') {
    const spec = jobSpecOf(job, 'template');
    if (spec.steps.some((s) => s.hostRequirements)) reqs = spec.steps.map((s) => s.hostRequirements);
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(jobId, reqs);
  return reqs;
}
