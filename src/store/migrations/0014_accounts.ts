// Accounts: named API tokens (for scripts and CI; a sign-in's token has no name) and the audit log
// of people's actions (who did what to what, and when).
import { type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_tokens').addColumn('name', 'text').execute();
  await db.schema
    .createTable('audit_log')
    // SQLite's `integer primary key autoincrement` is spelled `bigserial` on PostgreSQL.
    .$call((t) => (isPostgres(db) ? t.addColumn('id', 'bigserial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())))
    .addColumn('time', 'text', (c) => c.notNull())
    // No foreign key: the log outlives the users it names, so it keeps their name as it was.
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_time').on('audit_log').columns(['time']).execute();
  await db.schema.createIndex('audit_log_user_time').on('audit_log').columns(['user_name', 'time']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await db.schema.alterTable('api_tokens').dropColumn('name').execute();
}
