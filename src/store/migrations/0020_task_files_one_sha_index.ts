// One index on task_files.sha256, not two: 0001 made `task_files_sha` and 0012 `task_files_sha256`
// on the same column. Every result stores its files (two rows for stdout and stderr at least), and
// each row was written into both; the blob collector's probes need only one.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('task_files_sha').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('task_files_sha').on('task_files').columns(['sha256']).execute();
}
