// Which database is under a Kysely handle. Repositories ask here instead of taking a flag, so a
// transaction knows its dialect as well as the connection it came from.
import { type Kysely, PostgresAdapter } from 'kysely';

/**
 * True on PostgreSQL. There row locks (`FOR UPDATE [SKIP LOCKED]`) exist and matter, because several
 * coordinator replicas write at once; SQLite has neither the clause nor the need (one process, one
 * writer at a time).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isPostgres(db: Kysely<any>): boolean {
  // getExecutor() is marked internal, but it is where a transaction exposes its dialect's adapter.
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
