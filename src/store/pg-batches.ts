// PostgreSQL's own forms of the agent protocol's batch statements (task-batches.ts, usage.ts branch
// here on PostgreSQL; SQLite keeps theirs). On PostgreSQL every statement is a round-trip to the
// server, and the multi-row INSERTs split into power-of-two batches (statement-shapes.ts, for
// SQLite's statement cache) took up to three per table for one group of reports; here each column
// is bound as one array and unnest'ed, so any number of rows is one statement of one text.
import { CompiledQuery } from 'kysely';
import type { Db } from './schema.js';

/** A column as unnest needs it: its name and its PostgreSQL type (the array is cast to it). */
export type PgColumn = readonly [name: string, type: 'text' | 'integer' | 'bigint' | 'double precision'];

const insertTexts = new Map<string, string>();

/**
 * `INSERT INTO table (columns) SELECT * FROM unnest($1::type[], …)` with `columnValues[i]` the
 * values of column i, one per row. `conflictDoNothing`: the columns of a unique key whose existing
 * rows are kept (ON CONFLICT … DO NOTHING). Table and column names are the code's, never input.
 */
export async function insertUnnest(db: Db, table: string, columns: readonly PgColumn[], columnValues: readonly unknown[][], conflictDoNothing?: readonly string[]): Promise<void> {
  if (columnValues[0]!.length === 0) return;
  const key = `${table} ${columns.map(([name]) => name).join(',')} ${conflictDoNothing?.join(',') ?? ''}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    const names = columns.map(([name]) => `"${name}"`).join(', ');
    const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
    const conflict = conflictDoNothing ? ` on conflict (${conflictDoNothing.map((c) => `"${c}"`).join(', ')}) do nothing` : '';
    text = `insert into "${table}" (${names}) select * from unnest(${arrays})${conflict}`;
    insertTexts.set(key, text);
  }
  await db.executeQuery(CompiledQuery.raw(text, columnValues as unknown[]));
}

/**
 * Deletes the result files of the tasks `taskIds` in one statement. Written so that PostgreSQL looks
 * each task up in task_files' primary key: a plain `task_id IN (…)` was planned as a sequential scan
 * while the table had no statistics yet (autovacuum analyses it a minute or more after a farm's
 * first burst of results), a scan of every file stored, per group of reports: 3 ms at 40,000 files,
 * growing with the table (`EXPLAIN ANALYZE` at 40,000 files: 3.8 ms, this form 0.3 ms). The lateral
 * lookup is per task whatever the estimates (`offset 0` keeps the planner from flattening it back
 * into a hash join over the whole table); the rows found are deleted by their physical address (a
 * TID scan).
 */
export async function deleteFilesOfTasks(db: Db, taskIds: readonly string[]): Promise<void> {
  await db.executeQuery(
    CompiledQuery.raw(
      'delete from "task_files" where ctid = any(array(select f.ctid from unnest($1::text[]) as u(id) cross join lateral (select ctid from "task_files" where "task_id" = u.id offset 0) as f))',
      [taskIds],
    ),
  );
}
