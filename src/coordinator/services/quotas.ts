// Quotas: an admin caps a user's running cores (`--max-cores`) and gives them a monthly budget of
// core-hours (`--monthly-core-hours`, `--over-budget hold|stop`). Leasing takes no task that would
// go past them, waiting jobs say so, and a `stop` budget once spent stops the user's running tasks.
import { sql } from 'kysely';
import type { UserQuotaView } from '../../wire/accounts.js';
import { type OverBudget, type QuotaSettings, type QuotaUse, budgetSpent, coreRoom } from '../../core/quotas.js';
import { monthStartDay, monthStartIso } from '../../core/usage.js';
import { isPostgres } from '../../store/dialect.js';
import * as quotasRepo from '../../store/repositories/quotas.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import * as usageRepo from '../../store/repositories/usage.js';
import * as users from '../../store/repositories/users.js';
import type { Db } from '../../store/schema.js';
import { badRequest, notFound } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { audit } from './audit.js';
import { type ServiceContext, nowIso } from './context.js';
import { refreshJobStatus } from './jobs.js';

export type QuotaState = QuotaUse & { userId: string };

const settingsOf = (r: { max_cores: number | null; monthly_core_hours: number | null; over_budget: string | null }): QuotaSettings => ({
  maxCores: r.max_cores,
  monthlyCoreHours: r.monthly_core_hours === null ? null : Number(r.monthly_core_hours),
  overBudget: r.over_budget === 'stop' ? 'stop' : 'hold',
});

/**
 * What each of the given users (every user when not given) runs now and used this month, with
 * their settings. The month counts ended attempts from the ledger and running ones up to now.
 */
export async function quotaUses(db: Db, rows: readonly { id: string; name: string; max_cores: number | null; monthly_core_hours: number | null; over_budget: string | null }[], now = new Date()): Promise<Map<string, QuotaState>> {
  const out = new Map<string, QuotaState>();
  if (rows.length === 0) return out;
  const ids = rows.map((r) => r.id);
  const monthStart = monthStartDay(now);
  const monthStartMs = Date.parse(monthStartIso(now));
  const [ended, running] = await Promise.all([usageRepo.coreSecondsSince(db, ids, monthStart), usageRepo.runningAttemptsOf(db, ids)]);
  for (const r of rows) out.set(r.id, { userId: r.id, user: r.name, settings: settingsOf(r), runningCores: 0, monthCoreSeconds: ended.get(r.id) ?? 0, monthStart });
  for (const a of running) {
    const u = out.get(a.user_id)!;
    // A task uploading its results holds no cores (its agent's slot is free), as agents count them.
    if (a.status !== 'uploading') u.runningCores += a.cores;
    u.monthCoreSeconds += (Math.max(0, now.getTime() - Math.max(Date.parse(a.started_at), monthStartMs)) / 1000) * a.cores;
  }
  return out;
}

/** The limited users among `userIds` (all limited users when not given) and their use. */
export async function limitedUses(db: Db, userIds?: readonly string[]): Promise<Map<string, QuotaState>> {
  return quotaUses(db, await quotasRepo.limitedUsers(db, userIds));
}

/**
 * For a lease: the cores each limited user's tasks may still take (users missing: no limit). On
 * PostgreSQL each limited user is locked for the rest of the transaction first, so replicas leasing
 * at once see each other's leases and cannot together take a user past the cap.
 */
export async function leaseRoom(db: Db): Promise<Map<string, number>> {
  const room = new Map<string, number>();
  // Most farms limit no one: then the users table is read at most once a second, not at every lease.
  if (!quotasInUse && Date.now() - noneLimitedAt < NONE_LIMITED_TTL_MS) return room;
  const limited = await quotasRepo.limitedUsers(db);
  quotasInUse = limited.length > 0;
  if (limited.length === 0) {
    noneLimitedAt = Date.now();
    return room;
  }
  if (isPostgres(db)) for (const u of limited) await sql`select pg_advisory_xact_lock(hashtext(${`drover-quota:${u.id}`}))`.execute(db);
  for (const [id, use] of await quotaUses(db, limited)) {
    const r = coreRoom(use);
    if (r !== null) room.set(id, r);
  }
  return room;
}

/** Whether the last lease found limited users (only then may a task's end free room for waiting tasks). */
let quotasInUse = false;
/** When a lease last found no limited user; a quota set on another replica is seen within the TTL. */
let noneLimitedAt = 0;
const NONE_LIMITED_TTL_MS = 1000;

/**
 * A task of someone's stopped holding cores (it ended, or it is only uploading its results): with
 * quotas in use, a limited user's waiting task may start now, so idle agents are woken to ask. (An
 * agent is woken by new work only; without quotas an ending task makes none.)
 */
export function wakeForQuotas(ctx: ServiceContext): void {
  if (quotasInUse) ctx.bus.emit('work');
}

export interface QuotaChange {
  /** A whole number of cores, or null to remove the cap. */
  maxCores?: number | null;
  /** Core-hours per month, or null to remove the budget. */
  monthlyCoreHours?: number | null;
  overBudget?: OverBudget;
}

export function quotaView(u: QuotaState): UserQuotaView {
  return { ...u.settings, runningCores: u.runningCores, monthCoreSeconds: u.monthCoreSeconds, budgetSpent: budgetSpent(u) };
}

/** An admin sets (or, with null, clears) a user's cap, budget and what a spent budget does; recorded in the audit log. */
export async function setUserQuota(ctx: ServiceContext, name: string, change: QuotaChange, actor: UserPrincipal): Promise<UserQuotaView> {
  const row = await users.findUserByName(ctx.db, name);
  if (!row) throw notFound(`user "${name}"`);
  if (change.maxCores != null && (!Number.isInteger(change.maxCores) || change.maxCores < 1)) throw badRequest('maxCores is a whole number of at least 1 (or null: no cap)');
  if (change.monthlyCoreHours != null && !(Number.isFinite(change.monthlyCoreHours) && change.monthlyCoreHours > 0)) throw badRequest('monthlyCoreHours is a number above 0 (or null: no budget)');
  const fields: Partial<quotasRepo.QuotaFields> = {
    ...(change.maxCores !== undefined ? { max_cores: change.maxCores } : {}),
    ...(change.monthlyCoreHours !== undefined ? { monthly_core_hours: change.monthlyCoreHours } : {}),
    ...(change.overBudget !== undefined ? { over_budget: change.overBudget } : {}),
  };
  await quotasRepo.setQuota(ctx.db, row.id, fields);
  noneLimitedAt = 0;
  await audit(ctx, actor, 'user.quota', name, { ...change });
  // A raised or removed limit may let waiting tasks start now.
  ctx.bus.emit('work');
  const after = (await quotaUses(ctx.db, [{ ...row, ...fields }])).get(row.id)!;
  return quotaView(after);
}

/** Every user's use against their limits, for admins (`drover user list`, the users page). */
export async function allQuotaViews(db: Db): Promise<Map<string, UserQuotaView>> {
  const rows = await db.selectFrom('users').select(['id', 'name', 'max_cores', 'monthly_core_hours', 'over_budget']).execute();
  return new Map([...(await quotaUses(db, rows))].map(([id, u]) => [id, quotaView(u)]));
}

export const BUDGET_STOP_PREFIX = 'stopped: the monthly budget';

/**
 * Stops the running tasks of users whose budget is spent and set to `stop`: canceled with the
 * reason (not failed; `drover job retry` requeues them). Returns how many were stopped.
 */
export async function enforceBudgets(ctx: ServiceContext): Promise<number> {
  const over = [...(await limitedUses(ctx.db)).values()].filter((u) => u.settings.overBudget === 'stop' && budgetSpent(u));
  let stopped = 0;
  for (const u of over) {
    const reason = `${BUDGET_STOP_PREFIX} of ${u.user} (${u.settings.monthlyCoreHours} core-hours) is spent; \`drover job retry JOB --task N\` requeues it once the budget allows`;
    const running = await ctx.db
      .selectFrom('tasks')
      .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
      .select(['tasks.id', 'tasks.job_id', 'tasks.attempt'])
      .where('jobs.user_id', '=', u.userId)
      .where('tasks.status', '=', 'running')
      .execute();
    for (const t of running) {
      const changed = await ctx.db.transaction().execute(async (trx) => {
        await tasksRepo.lockTask(trx, t.id);
        const now = await trx.selectFrom('tasks').select(['status', 'attempt']).where('id', '=', t.id).executeTakeFirst();
        if (!now || now.status !== 'running' || now.attempt !== t.attempt) return false;
        await tasksRepo.finishAttempt(trx, t.id, t.attempt, { status: 'canceled', finished_at: nowIso(), exit_code: null, error: reason });
        await tasksRepo.updateTask(trx, t.id, { status: 'canceled', finished_at: nowIso(), lease_expires_at: null, error: reason });
        await refreshJobStatus(trx, t.job_id);
        return true;
      });
      if (changed) {
        stopped++;
        ctx.bus.emit('task', t.id, t.job_id);
        ctx.bus.emit('job', t.job_id);
      }
    }
    if (running.length > 0) console.log(`[quotas] ${u.user}'s monthly budget is spent: stopped ${running.length} running task(s)`);
  }
  return stopped;
}
