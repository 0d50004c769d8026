// The audit log: people's actions, newest first.
import type { AuditLogTable, Db } from '../schema.js';

/** A new entry: every column of audit_log but its generated id (schema.ts says what each holds). */
export type AuditEntryRow = Omit<AuditLogTable, 'id'>;

export async function insertAuditEntry(db: Db, row: AuditEntryRow): Promise<void> {
  await db.insertInto('audit_log').values(row).execute();
}

export function listAuditEntries(db: Db, filter: { userName?: string; since?: string; until?: string; action?: string; limit: number }) {
  let q = db.selectFrom('audit_log').selectAll();
  if (filter.userName !== undefined) q = q.where('user_name', '=', filter.userName);
  if (filter.since !== undefined) q = q.where('time', '>=', filter.since);
  if (filter.until !== undefined) q = q.where('time', '<', filter.until);
  if (filter.action !== undefined) q = q.where('action', '=', filter.action);
  return q.orderBy('time', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}
