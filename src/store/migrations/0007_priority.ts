// Job priority (0–100, higher first; 50 unless asked): leasing serves the highest priority first,
// then the user with the fewest cores running, then the oldest job.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('priority', 'integer', (c) => c.notNull().defaultTo(50)).execute();
  await db.schema.createIndex('jobs_status_priority_queued').on('jobs').columns(['status', 'priority', 'queued_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_status_priority_queued').execute();
  await db.schema.alterTable('jobs').dropColumn('priority').execute();
}
