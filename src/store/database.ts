// Opens the store and brings its schema up to date. SQLite is the embedded default; PostgreSQL
// (`--db postgres://…`) lets several coordinator replicas share one store.
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider, type SqliteDatabase } from 'kysely';
import SQLite from 'better-sqlite3';
import { createRequire } from 'node:module';
import type { Pool } from 'pg';
import type { Database } from './schema.js';
import { createPrivateFileSync, restrictSqliteFilesSync } from './private-files.js';
import { attachOffThreadReader } from './off-thread-reads.js';
import * as initial from './migrations/0001_initial.js';
import * as images from './migrations/0002_images.js';
import * as agentBlocklist from './migrations/0003_agent_blocklist.js';
import * as render from './migrations/0004_render.js';
import * as taskIndexes from './migrations/0005_task_indexes.js';
import * as templates from './migrations/0006_templates.js';
import * as priority from './migrations/0007_priority.js';
import * as jobDependencies from './migrations/0008_job_dependencies.js';
import * as agentManagement from './migrations/0009_agent_management.js';
import * as jobRequirements from './migrations/0010_job_requirements.js';
import * as jobArchive from './migrations/0011_job_archive.js';
import * as blobCollection from './migrations/0012_blob_collection.js';
import * as accounts from './migrations/0014_accounts.js';
import * as webhooks from './migrations/0015_webhooks.js';
import * as agentLimits from './migrations/0017_agent_limits.js';
import * as usageLedger from './migrations/0018_usage_ledger.js';
import * as quotas from './migrations/0019_quotas.js';
import * as taskFilesOneShaIndex from './migrations/0020_task_files_one_sha_index.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_images': images,
  '0003_agent_blocklist': agentBlocklist,
  '0004_render': render,
  '0005_task_indexes': taskIndexes,
  '0006_templates': templates,
  '0007_priority': priority,
  '0008_job_dependencies': jobDependencies,
  '0009_agent_management': agentManagement,
  '0010_job_requirements': jobRequirements,
  '0011_job_archive': jobArchive,
  '0012_blob_collection': blobCollection,
  '0014_accounts': accounts,
  '0015_webhooks': webhooks,
  '0017_agent_limits': agentLimits,
  '0018_usage_ledger': usageLedger,
  '0019_quotas': quotas,
  '0020_task_files_one_sha_index': taskFilesOneShaIndex,
};

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  /** PostgreSQL only: the connection string, for the LISTEN connection of the event bridge. */
  url?: string;
  /** PostgreSQL only: the pool behind `db`, for NOTIFY. */
  pool?: Pool;
  close(): Promise<void>;
}

export const isPostgresUrl = (spec: string): boolean => /^postgres(ql)?:\/\//i.test(spec);

/** `postgres://…` or `postgresql://…` opens PostgreSQL; anything else is a SQLite file path. */
export function openDatabase(spec: string): DatabaseHandle {
  return isPostgresUrl(spec) ? openPostgres(spec) : openSqlite(spec);
}

/** The `pg` driver, loaded on first use: every CLI command imports this module, few open PostgreSQL. */
function loadPg(): typeof import('pg') {
  const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
  // int8 (bigint columns, count(*)) arrives as a string by default: every value we keep (sizes,
  // counts, log ids) is far below 2^53, so a number is exact and matches what SQLite returns.
  pg.types.setTypeParser(pg.types.builtins.INT8, (text: string) => Number(text));
  return pg;
}

export function openPostgres(url: string, opts: { maxConnections?: number } = {}): DatabaseHandle {
  const pool = new (loadPg().Pool)({ connectionString: url, max: opts.maxConnections ?? 10 });
  // An idle client that loses its server (a restart, a failover) must not crash the coordinator;
  // the pool drops it and the next query opens a fresh connection.
  pool.on('error', (err) => console.error(`[store] PostgreSQL connection lost: ${err.message}`));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', url, pool, close: () => db.destroy() };
}

export function openSqlite(path: string): DatabaseHandle {
  // Readable by the coordinator's account only (SQLite would create it by the umask, 0644).
  const onDisk = path !== ':memory:' && !path.startsWith('file:');
  if (onDisk) createPrivateFileSync(path);
  const sqlite = new SQLite(path);
  // WAL lets readers go on while a writer commits; NORMAL sync is durable across process crashes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // Checkpoints (the only fsyncs under NORMAL) every ~40 MB of WAL rather than every 4 MB: under a
  // burst of completions they were half the cost of a commit. Durability is unchanged; the WAL file
  // is truncated back to 64 MB after a checkpoint.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma('journal_size_limit = 67108864');
  // A 64 MB page cache keeps the hot task rows and indexes of a big job in memory (default: 2 MB).
  sqlite.pragma('cache_size = -65536');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // The WAL and shared-memory files exist now; an older farm's are fixed along with the database.
  if (onDisk) restrictSqliteFilesSync(path);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  // Reads of a huge job's rows run on a second connection in a worker (off-thread-reads.ts).
  const closeReader = onDisk ? attachOffThreadReader(db, path) : async () => undefined;
  return {
    db,
    dialect: 'sqlite',
    close: async () => {
      await closeReader();
      await db.destroy();
    },
  };
}

/**
 * Kysely prepares every query anew; parsing and planning then cost more than running the small
 * statements of the agent protocol. Prepared statements are kept by their SQL text (most recently
 * used first, bounded), which is safe because better-sqlite3 runs one statement at a time; list
 * lengths are rounded to a few shapes (statement-shapes.ts) so that the texts repeat. Kysely needs
 * only `prepare` and `close` of the database.
 */
function withStatementCache(sqlite: SQLite.Database, max = 1000): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(source: string): SQLite.Statement {
      let stmt = cache.get(source);
      if (stmt) {
        cache.delete(source);
      } else {
        stmt = sqlite.prepare(source);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(source, stmt);
      return stmt;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  // Unordered: features land in parallel, so a later-numbered migration may have run first.
  const migrator = new Migrator({ db, provider: new InCodeMigrations(), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
