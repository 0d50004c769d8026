// Users' quotas (0019_quotas): the few users an admin limited, and setting a user's limits.
import type { Db, UsersTable } from '../schema.js';

export type QuotaFields = Pick<UsersTable, 'max_cores' | 'monthly_core_hours' | 'over_budget'>;

/** Users with a core cap or a monthly budget (or, given `userIds`, those of them that have one). */
export function limitedUsers(db: Db, userIds?: readonly string[]) {
  let q = db
    .selectFrom('users')
    .select(['id', 'name', 'max_cores', 'monthly_core_hours', 'over_budget'])
    .where((eb) => eb.or([eb('max_cores', 'is not', null), eb('monthly_core_hours', 'is not', null)]));
  if (userIds) {
    if (userIds.length === 0) return Promise.resolve([]);
    q = q.where('id', 'in', [...userIds]);
  }
  return q.orderBy('id').execute();
}

export async function setQuota(db: Db, userId: string, fields: Partial<QuotaFields>): Promise<void> {
  await db.updateTable('users').set(fields).where('id', '=', userId).execute();
}
