// `drover usage`: core- and GPU-seconds per user, per day and per job, read from the usage ledger
// (written as attempts end, so deleted jobs still count). People see their own; admins anyone's.
import { parseDay } from '../../core/usage.js';
import * as usageRepo from '../../store/repositories/usage.js';
import { badRequest, forbidden } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import type { ServiceContext } from './context.js';
import type { UsageQuery, UsageReport } from '../../wire/usage.js';

export const JOB_ROWS = 200;

function dayArg(field: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const day = parseDay(text);
  if (!day) throw badRequest(`${field} must be a date such as 2026-12-01, not "${text}"`);
  return day;
}

export async function usageReport(ctx: ServiceContext, me: UserPrincipal, q: UsageQuery): Promise<UsageReport> {
  if (q.user !== undefined && q.user !== me.name && !me.admin) throw forbidden(`only admins see other people's usage; yours is shown without --user`);
  const since = dayArg('since', q.since);
  const until = dayArg('until', q.until);
  if (since && until && since > until) throw badRequest(`since (${since}) is after until (${until})`);
  const filter: usageRepo.UsageFilter = {
    ...(me.admin ? (q.user !== undefined ? { userName: q.user } : {}) : { userId: me.id }),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  };
  const [users, days, jobs] = await Promise.all([usageRepo.usageByUser(ctx.db, filter), usageRepo.usageByDay(ctx.db, filter), usageRepo.usageByJob(ctx.db, filter, JOB_ROWS)]);
  const existing = new Set(jobs.length ? (await ctx.db.selectFrom('jobs').select('id').where('id', 'in', jobs.map((j) => j.jobId)).execute()).map((r) => r.id) : []);
  return { since: since ?? null, until: until ?? null, users, days, jobs: jobs.map((j) => ({ ...j, deleted: !existing.has(j.jobId) })) };
}
