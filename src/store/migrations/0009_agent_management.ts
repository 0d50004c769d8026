// Agents people manage from the coordinator: paused (finish running tasks, take no new ones until
// resumed), labelled from the coordinator, and removed (an offline agent leaves the list; it comes back if it is heard from again).
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('agents').addColumn('removed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // Labels set from the coordinator (`drover worker label`): kept over what the agent reports.
  await db.schema.alterTable('agents').addColumn('set_labels', 'text', (c) => c.notNull().defaultTo(sql`'{}'`)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('set_labels').execute();
  await db.schema.alterTable('agents').dropColumn('removed').execute();
  await db.schema.alterTable('agents').dropColumn('paused').execute();
}
