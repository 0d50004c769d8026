// Archived jobs: kept whole (tasks, logs, results) but left out of the default lists, counts and
// dashboards. `archived_at` is null for jobs in plain sight.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('archived_at', 'text').execute();
  // The job list filters on it before anything else.
  await db.schema.createIndex('jobs_archived_created').on('jobs').columns(['archived_at', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_archived_created').execute();
  await db.schema.alterTable('jobs').dropColumn('archived_at').execute();
}
