// The usage ledger: core- and GPU-seconds of every task attempt, written when the attempt ends (done,
// failed, lost, stopped or given back), one row per UTC day it ran on. It names the job and the user
// as they were and has no foreign keys, so deleting a job (or a user) keeps what they used.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('usage_ledger')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    /** YYYY-MM-DD (UTC): the part of the attempt that ran on that day. */
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('job_name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    /** How the attempt ended: done, error, lost, canceled, interrupted. */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('seconds', 'double precision', (c) => c.notNull())
    .addColumn('cores', 'integer', (c) => c.notNull())
    .addColumn('gpus', 'integer', (c) => c.notNull())
    .addColumn('core_seconds', 'double precision', (c) => c.notNull())
    .addColumn('gpu_seconds', 'double precision', (c) => c.notNull())
    .addColumn('ended_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_ledger_pk', ['task_id', 'attempt', 'day'])
    .execute();
  await db.schema.createIndex('usage_ledger_day').on('usage_ledger').columns(['day']).execute();
  await db.schema.createIndex('usage_ledger_user_day').on('usage_ledger').columns(['user_id', 'day']).execute();
  await db.schema.createIndex('usage_ledger_job').on('usage_ledger').columns(['job_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('usage_ledger').execute();
}
