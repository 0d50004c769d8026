// Job templates: a task belongs to a step of its job (0 for jobs of one step), may wait in
// `pending` for the steps it depends on, and reports progress and a status message while it
// runs. Agents report host facts (OS, CPU architecture, GPUs) that host requirements match.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('step', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('tasks').addColumn('progress', 'real').execute();
  await db.schema.alterTable('tasks').addColumn('message', 'text').execute();
  await db.schema.alterTable('agents').addColumn('attributes', 'text', (c) => c.notNull().defaultTo(sql`'{}'`)).execute();
  // "Is any task of this step still to run / did any fail": the step gate's probes.
  await db.schema.createIndex('tasks_job_step_status').on('tasks').columns(['job_id', 'step', 'status']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tasks_job_step_status').execute();
  await db.schema.alterTable('agents').dropColumn('attributes').execute();
  await db.schema.alterTable('tasks').dropColumn('message').execute();
  await db.schema.alterTable('tasks').dropColumn('progress').execute();
  await db.schema.alterTable('tasks').dropColumn('step').execute();
}
