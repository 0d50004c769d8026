// Job dependencies: which jobs each held job waits for.
import type { JobStatus } from '../../core/states.js';
import type { Db } from '../schema.js';
import { statusAsSeen } from './jobs.js';

export async function insertDependencies(db: Db, jobId: string, afterIds: readonly string[]): Promise<void> {
  if (afterIds.length === 0) return;
  await db.insertInto('job_dependencies').values(afterIds.map((after_id) => ({ job_id: jobId, after_id }))).execute();
}

/** The jobs `jobId` waits for, with their statuses, oldest dependency first. */
export async function dependenciesOf(db: Db, jobId: string): Promise<{ id: string; status: JobStatus }[]> {
  const rows = await db
    .selectFrom('job_dependencies')
    .innerJoin('jobs', 'jobs.id', 'job_dependencies.after_id')
    .select(['jobs.id', 'jobs.status'])
    .where('job_dependencies.job_id', '=', jobId)
    .orderBy('jobs.created_at')
    .execute();
  return rows.map((r) => ({ id: r.id, status: statusAsSeen(r.status) }));
}

/** Jobs still held for their dependencies (not ended). */
export function heldJobs(db: Db) {
  return db.selectFrom('jobs').select(['id', 'after_any', 'status']).where('held', '=', 1).where('status', 'in', ['created', 'queued']).execute();
}

/** Held jobs that wait for `afterId` to be done (`--after`, not `--after-any`). */
export async function strictDependents(db: Db, afterId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('job_dependencies')
    .innerJoin('jobs', 'jobs.id', 'job_dependencies.job_id')
    .select('jobs.id')
    .where('job_dependencies.after_id', '=', afterId)
    .where('jobs.held', '=', 1)
    .where('jobs.after_any', '=', 0)
    .execute();
  return rows.map((r) => r.id);
}
