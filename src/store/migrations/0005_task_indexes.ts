// Fewer indexes on tasks: every lease and every result rewrites a task row, and each index on a
// column it changes (status, agent) is one more B-tree to update and commit. One index on (job,
// status, idx) answers both what the two it replaces answered: a job's queued tasks in order (the
// lease) and "any task of this job in these states" (job status). `tasks_agent` served no query.
// Status-first lookups farm-wide (lease expiry, metrics) keep `tasks_lease` (status, lease end).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('tasks_job_status_idx').on('tasks').columns(['job_id', 'status', 'idx']).execute();
  await db.schema.dropIndex('tasks_status_job_idx').execute();
  await db.schema.dropIndex('tasks_job_status').execute();
  await db.schema.dropIndex('tasks_agent').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('tasks_agent').on('tasks').columns(['agent_id']).execute();
  await db.schema.createIndex('tasks_job_status').on('tasks').columns(['job_id', 'status']).execute();
  await db.schema.createIndex('tasks_status_job_idx').on('tasks').columns(['status', 'job_id', 'idx']).execute();
  await db.schema.dropIndex('tasks_job_status_idx').execute();
}
