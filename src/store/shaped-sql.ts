// The agent protocol's hot statements as SQL text made once per shape. Kysely's builders parse,
// freeze and compile every query anew: for a batch of 512 rows that is thousands of small objects
// to build and then collect. The few batch statements run for every lease and every result
// (task-batches.ts) are written here as text with `?` placeholders, once per shape
// (statement-shapes.ts), and run as compiled queries: the same text object each time, so SQLite's
// prepared-statement cache (database.ts) finds it at once. PostgreSQL gets the same text numbered
// ($1, $2, …). Only code-chosen names enter the text. In alternated scale-bench runs this took the
// coordinator from 86.5–88.6 % to 90.1–90.3 % parallel efficiency.
import { CompiledQuery, type QueryResult } from 'kysely';
import { isPostgres } from './dialect.js';
import type { Db } from './schema.js';

const texts = new Map<string, string>();

/**
 * Runs the statement `build` writes for this `shape` (a name unique to the statement and the sizes
 * of its lists), with `params` in the order of its placeholders (passed on as they are, not copied:
 * a batch of 512 rows binds thousands).
 */
export function runShaped<R = unknown>(db: Db, shape: string, build: () => string, params: unknown[]): Promise<QueryResult<R>> {
  const postgres = isPostgres(db);
  const key = `${postgres ? 'pg' : 'sqlite'} ${shape}`;
  let text = texts.get(key);
  if (text === undefined) {
    let n = 0;
    text = postgres ? build().replace(/\?/g, () => `$${++n}`) : build();
    texts.set(key, text);
  }
  return db.executeQuery<R>(CompiledQuery.raw(text, params));
}

/** `(?, ?, …)` groups: `count` of them with `width` placeholders each, comma-separated. */
export function placeholderRows(count: number, width: number): string {
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  return Array.from({ length: count }, () => row).join(', ');
}

/** `?, ?, …`: `count` placeholders for an IN list. */
export function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}
