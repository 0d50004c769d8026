// The agent protocol's hot statements as SQL text made once per shape. Kysely's builders parse,
// freeze and compile every query anew: for a batch of 512 rows that is thousands of small objects
// to build and then collect. The few batch statements run for every lease and every result
// (task-batches.ts) are built with Kysely once per shape (statement-shapes.ts) and compiled by the
// dialect's own compiler (checked column names, its own parameter numbering: `?` on SQLite, $1, $2,
// … on PostgreSQL); later runs of the shape reuse that text with new parameters, as compiled
// queries: the same text object each time, so SQLite's prepared-statement cache (database.ts)
// finds it at once. In alternated scale-bench runs this took the coordinator from 86.5–88.6 % to
// 90.1–90.3 % parallel efficiency.
import { CompiledQuery, type Compilable, type QueryResult } from 'kysely';
import { isPostgres } from './dialect.js';
import type { Db } from './schema.js';

const texts = new Map<string, string>();

/**
 * Runs the statement `build` makes for this `shape` (a name unique to the statement and the sizes
 * of its lists), with `params` in the order of its placeholders (passed on as they are, not copied:
 * a batch of 512 rows binds thousands). `build` runs only the first time a shape is seen on a
 * dialect, with the values of that run; the parameters it binds are then checked against `params`,
 * so a statement whose parameters come in another order than the caller's fails at once instead of
 * storing values in the wrong columns.
 */
export function runShaped<R>(db: Db, shape: string, build: () => Compilable<R>, params: readonly unknown[]): Promise<QueryResult<R>> {
  const key = `${isPostgres(db) ? 'pg' : 'sqlite'} ${shape}`;
  let text = texts.get(key);
  if (text === undefined) {
    const compiled = build().compile();
    assertSameParameters(shape, compiled.parameters, params);
    text = compiled.sql;
    texts.set(key, text);
  }
  return db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]));
}

function assertSameParameters(shape: string, compiled: readonly unknown[], given: readonly unknown[]): void {
  const at = compiled.length === given.length ? compiled.findIndex((v, i) => v !== given[i]) : Math.min(compiled.length, given.length);
  if (at !== -1) throw new Error(`shaped statement "${shape}": its parameter ${at + 1} is not the one given (${compiled.length} compiled, ${given.length} given)`);
}

/** The named columns of a row, in the order named: the order their parameters bind in an INSERT. */
export function columnsOf<R, C extends keyof R>(row: R, columns: readonly C[]): Pick<R, C> {
  const out = {} as Pick<R, C>;
  for (const c of columns) out[c] = row[c];
  return out;
}
