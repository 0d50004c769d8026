// Job dependencies (`--after`): a job is held, its queued tasks offered to no agent, until the jobs
// it waits for are done (or, `--after-any`, have ended whatever their state).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('job_dependencies')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('after_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('job_dependencies_pk', ['job_id', 'after_id'])
    .execute();
  await db.schema.createIndex('job_dependencies_after').on('job_dependencies').columns(['after_id']).execute();
  // 1 while the job waits for the jobs it depends on; `after_any`: 1 when any end will do.
  await db.schema.alterTable('jobs').addColumn('held', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('jobs').addColumn('after_any', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // The coordinator's check every second reads the held jobs: an index walk, not a scan of all jobs.
  await db.schema.createIndex('jobs_held').on('jobs').columns(['held', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_held').execute();
  await db.schema.alterTable('jobs').dropColumn('after_any').execute();
  await db.schema.alterTable('jobs').dropColumn('held').execute();
  await db.schema.dropTable('job_dependencies').execute();
}
