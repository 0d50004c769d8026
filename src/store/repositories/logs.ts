// Task log chunks, kept per attempt.
import type { Db } from '../schema.js';
import type { LogStream } from '../../wire/tasks.js';

export interface LogChunkRow {
  task_id: string;
  attempt: number;
  stream: LogStream;
  data: string;
  created_at: string;
}

export async function appendLogs(db: Db, rows: readonly LogChunkRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const inserted = await db.insertInto('task_logs').values(rows).returning('id').execute();
  return inserted.map((r) => Number(r.id));
}

export function readLogs(db: Db, taskId: string, opts: { attempt?: number; after?: number; limit: number }) {
  let q = db.selectFrom('task_logs').selectAll().where('task_id', '=', taskId);
  if (opts.attempt !== undefined) q = q.where('attempt', '=', opts.attempt);
  if (opts.after !== undefined) q = q.where('id', '>', opts.after);
  return q.orderBy('id').limit(opts.limit).execute();
}

export async function addLogBytes(db: Db, taskId: string, attempt: number, bytes: number): Promise<void> {
  await db
    .updateTable('task_attempts')
    .set((eb) => ({ log_bytes: eb('log_bytes', '+', bytes) }))
    .where('task_id', '=', taskId)
    .where('attempt', '=', attempt)
    .execute();
}
