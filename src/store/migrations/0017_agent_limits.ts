// What an agent can enforce on its host tasks (JSON: memory, processes, how), reported at join and
// shown by `drover worker list`; older agents report nothing ('{}': unknown).
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('limits', 'text', (c) => c.notNull().defaultTo(sql`'{}'`)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('limits').execute();
}
