// The audit log: people's actions, newest first.
import type { Db } from '../schema.js';

export interface AuditEntryRow {
  time: string;
  user_id: string;
  user_name: string;
  action: string;
  target: string;
  details: string;
}

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
