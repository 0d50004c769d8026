// Agents people manage from the coordinator: paused (finish running tasks, take no new ones until
// resumed) and removed (an offline agent leaves the list; it comes back if it is heard from again).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('agents').addColumn('removed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('removed').execute();
  await db.schema.alterTable('agents').dropColumn('paused').execute();
}
