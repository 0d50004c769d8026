// Collecting blobs no job refers to any more. `blob_claims` keeps when someone last said they are
// about to use a blob (asked whether it is missing, started uploading it): a blob claimed within the
// grace period is never collected, so one uploaded for a job not created yet survives. The indexes
// let "does anything still refer to this blob" be a few index probes.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('blob_claims')
    .addColumn('sha256', 'text', (c) => c.primaryKey())
    .addColumn('claimed_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('blob_claims_claimed_at').on('blob_claims').column('claimed_at').execute();
  await db.schema.createIndex('task_files_sha256').on('task_files').column('sha256').execute();
  await db.schema.createIndex('tasks_input_sha').on('tasks').column('input_sha').execute();
  await db.schema.createIndex('frames_sha256').on('frames').column('sha256').execute();
  await db.schema.createIndex('frames_thumb_sha').on('frames').column('thumb_sha').execute();
  await db.schema.createIndex('frames_preview_sha').on('frames').column('preview_sha').execute();
  await db.schema.createIndex('job_previews_sha256').on('job_previews').column('sha256').execute();
  await db.schema.createIndex('blob_owners_sha256').on('blob_owners').column('sha256').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['blob_owners_sha256', 'job_previews_sha256', 'frames_preview_sha', 'frames_thumb_sha', 'frames_sha256', 'tasks_input_sha', 'task_files_sha256', 'blob_claims_claimed_at']) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema.dropTable('blob_claims').execute();
}
