// Quotas set by admins per user (`drover user set NAME --max-cores N --monthly-core-hours H
// --over-budget hold|stop`): null is no limit.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('max_cores', 'integer').execute();
  await db.schema.alterTable('users').addColumn('monthly_core_hours', 'double precision').execute();
  /** hold (no new task starts) or stop (running ones are stopped too) once the month's budget is spent. */
  await db.schema.alterTable('users').addColumn('over_budget', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('over_budget').execute();
  await db.schema.alterTable('users').dropColumn('monthly_core_hours').execute();
  await db.schema.alterTable('users').dropColumn('max_cores').execute();
}
