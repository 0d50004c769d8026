// Render jobs: each frame's state and files, and the job's preview video.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('frames')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('frame', 'integer', (c) => c.notNull())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('path', 'text')
    .addColumn('sha256', 'text')
    .addColumn('size', 'bigint')
    .addColumn('render_ms', 'integer')
    .addColumn('thumb_sha', 'text')
    .addColumn('preview_sha', 'text')
    .addColumn('attempt', 'integer')
    .addColumn('finished_at', 'text')
    .addPrimaryKeyConstraint('frames_pk', ['job_id', 'frame'])
    .execute();
  await db.schema.createIndex('frames_task').on('frames').columns(['task_id', 'frame']).execute();
  await db.schema.createIndex('frames_job_finished').on('frames').columns(['job_id', 'finished_at']).execute();

  await db.schema
    .createTable('job_previews')
    .addColumn('job_id', 'text', (c) => c.primaryKey().references('jobs.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('size', 'bigint')
    .addColumn('error', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('job_previews').execute();
  await db.schema.dropTable('frames').execute();
}
