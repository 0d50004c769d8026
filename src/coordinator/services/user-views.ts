// Users as the account routes answer with them: one by name, the caller, and the list with each
// user's use against their limits.
import * as usersRepo from '../../store/repositories/users.js';
import type { UserList, UserView } from '../../wire/accounts.js';
import { notFound } from '../errors.js';
import { type UserPrincipal, userView } from './accounts.js';
import type { ServiceContext } from './context.js';
import { allQuotaViews } from './quotas.js';

/** The user of this name; 404 when there is none. */
export async function userNamed(ctx: ServiceContext, name: string): Promise<UserView> {
  const row = await usersRepo.findUserByName(ctx.db, name);
  if (!row) throw notFound(`user "${name}"`);
  return userView(row);
}

/** The caller's own user (GET /auth/me); 404 when it was removed meanwhile. */
export async function currentUser(ctx: ServiceContext, me: UserPrincipal): Promise<UserView> {
  const row = await usersRepo.findUserById(ctx.db, me.id);
  if (!row) throw notFound('your user');
  return userView(row);
}

/** Every user, each with their use against their limits (`quota`: cap, budget, running cores, this month's core-seconds). */
export async function usersWithQuotas(ctx: ServiceContext): Promise<UserList> {
  const quotas = await allQuotaViews(ctx.db);
  return { users: (await usersRepo.listUsers(ctx.db)).map((u) => ({ ...userView(u), quota: quotas.get(u.id)! })) };
}
