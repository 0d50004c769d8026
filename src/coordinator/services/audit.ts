// The audit log of people's actions. Recording one is one call, `audit(ctx, who, action, target,
// details)`, made after the action succeeded; a failure to record is logged, never undoes the action.
import * as auditRepo from '../../store/repositories/audit.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';

/**
 * The actions recorded, as `<thing>.<verb>`. New actions add their name here and one `audit(…)` call
 * where they succeed; the names of actions still to come (job set, archive and delete, worker
 * pause, resume, remove and label) are reserved so their branches only add that call.
 */
export type AuditAction =
  | 'job.create'
  | 'job.start'
  | 'job.stop'
  | 'job.retry'
  | 'job.set'
  | 'job.archive'
  | 'job.unarchive'
  | 'job.delete'
  | 'worker.pause'
  | 'worker.resume'
  | 'worker.remove'
  | 'worker.label'
  | 'user.create'
  | 'user.remove'
  | 'user.role'
  | 'user.quota'
  | 'user.password'
  | 'password.change'
  | 'token.create'
  | 'token.revoke'
  | 'webhook.add'
  | 'webhook.remove'
  | 'image.add'
  | 'image.remove';

import type { AuditEntry } from '../../wire/webhooks.js';
import { auditDetailsOf } from '../../store/json-columns.js';
export type { AuditEntry };

/** Records that `who` did `action` to `target`. Never carries a secret: callers pass names and ids. */
export async function audit(ctx: ServiceContext, who: Pick<UserPrincipal, 'id' | 'name'>, action: AuditAction, target: string, details: Record<string, unknown> = {}): Promise<void> {
  try {
    await auditRepo.insertAuditEntry(ctx.db, { time: nowIso(), user_id: who.id, user_name: who.name, action, target, details: JSON.stringify(details) });
  } catch (err) {
    console.error(`[coordinator] could not record ${action} of ${who.name} on ${target} in the audit log: ${(err as Error).message}`);
  }
}

export async function auditEntries(ctx: ServiceContext, filter: { user?: string; since?: string; until?: string; action?: string; limit?: number }): Promise<AuditEntry[]> {
  const rows = await auditRepo.listAuditEntries(ctx.db, {
    ...(filter.user !== undefined ? { userName: filter.user } : {}),
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    ...(filter.until !== undefined ? { until: filter.until } : {}),
    ...(filter.action !== undefined ? { action: filter.action } : {}),
    limit: filter.limit ?? 200,
  });
  return rows.map((r) => ({ time: r.time, user: r.user_name, userId: r.user_id, action: r.action, target: r.target, details: auditDetailsOf(r) }));
}
