// Quotas, pure: how many more cores a user's tasks may take now, whether the month's budget is
// spent, and the sentence a waiting job shows when its owner's quota holds it back.
import { hoursText } from './usage.js';

export type OverBudget = 'hold' | 'stop';
export const OVER_BUDGET_ACTIONS: readonly OverBudget[] = ['hold', 'stop'];

export interface QuotaSettings {
  /** The most cores the user's running tasks may hold together; null: no cap. */
  maxCores: number | null;
  /** Core-hours per calendar month (UTC); null: no budget. */
  monthlyCoreHours: number | null;
  /** Once the budget is spent: hold (no new task starts) or stop (running ones are stopped too). */
  overBudget: OverBudget;
}

export interface QuotaUse {
  user: string;
  settings: QuotaSettings;
  /** Cores the user's running tasks hold now. */
  runningCores: number;
  /** Core-seconds used this month: ended attempts (the ledger) and running ones so far. */
  monthCoreSeconds: number;
  /** The first day of the month counted (YYYY-MM-DD). */
  monthStart: string;
}

export function budgetSpent(u: Pick<QuotaUse, 'settings' | 'monthCoreSeconds'>): boolean {
  return u.settings.monthlyCoreHours !== null && u.monthCoreSeconds >= u.settings.monthlyCoreHours * 3600;
}

/** Cores the user's tasks may still take now; null when nothing limits them. */
export function coreRoom(u: QuotaUse): number | null {
  if (budgetSpent(u)) return 0;
  if (u.settings.maxCores === null) return null;
  return Math.max(0, u.settings.maxCores - u.runningCores);
}

/** Why a job of this user asking `cores` per task cannot start another task now, or null when its quota allows one. */
export function quotaWaitingReason(u: QuotaUse, cores: number): string | null {
  if (budgetSpent(u)) {
    return `${u.user}'s monthly budget of ${u.settings.monthlyCoreHours} core-hours is spent (${hoursText(u.monthCoreSeconds)} used since ${u.monthStart}): no new task of theirs starts until an admin raises it (\`drover user set ${u.user} --monthly-core-hours N\`) or the month ends`;
  }
  const room = coreRoom(u);
  if (room !== null && room < cores) {
    return `${u.user}'s running tasks hold ${u.runningCores} of the ${u.settings.maxCores} cores they may use at once (an admin's cap: \`drover user set ${u.user} --max-cores N\`)`;
  }
  return null;
}
