// Users and their API tokens.
import type { Db, UsersTable } from '../schema.js';

export type UserRow = UsersTable;

export function findUserByName(db: Db, name: string) {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

export function findUserById(db: Db, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listUsers(db: Db) {
  return db.selectFrom('users').selectAll().orderBy('name').execute();
}

export async function countUsers(db: Db): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A new user: no quota until an admin sets one. */
export async function insertUser(db: Db, row: Omit<UserRow, 'max_cores' | 'monthly_core_hours' | 'over_budget'>): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export async function insertToken(db: Db, row: { id: string; user_id: string; token_hash: string; created_at: string; expires_at: string | null; name?: string | null }): Promise<void> {
  await db.insertInto('api_tokens').values({ ...row, name: row.name ?? null, revoked_at: null }).execute();
}

/** The user behind a live token: not revoked, not expired. */
export function findUserByTokenHash(db: Db, tokenHash: string, now: string) {
  return db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['users.id', 'users.name', 'users.is_admin', 'users.created_at', 'api_tokens.id as token_id', 'api_tokens.token_hash', 'api_tokens.name as token_name'])
    .where('api_tokens.token_hash', '=', tokenHash)
    .where('api_tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', now)]))
    .executeTakeFirst();
}

export async function revokeToken(db: Db, tokenId: string, now: string): Promise<void> {
  await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', tokenId).execute();
}

export async function updateUser(db: Db, id: string, fields: Partial<Pick<UserRow, 'password_hash' | 'is_admin'>>): Promise<void> {
  await db.updateTable('users').set(fields).where('id', '=', id).execute();
}

export async function countAdmins(db: Db): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('is_admin', '=', 1).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A user's live tokens (sign-ins, CLI logins and named API tokens), newest first. */
export function liveTokensOf(db: Db, userId: string, now: string) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'created_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .execute();
}

/** Revokes one of the user's tokens; false when the user has no such live token. */
export async function revokeTokenOf(db: Db, userId: string, tokenId: string, now: string): Promise<boolean> {
  const result = await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', tokenId).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Revokes every sign-in of the user but `keep` (after a password change: other sign-ins end).
 * Named API tokens stay: scripts and CI hold them, and each is revoked by name when it must go.
 */
export async function revokeTokensOfUserExcept(db: Db, userId: string, keep: string | null, now: string): Promise<void> {
  let q = db.updateTable('api_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).where('name', 'is', null);
  if (keep) q = q.where('id', '!=', keep);
  await q.execute();
}

/** A user's live named API token of that name, if any (names are unique among live tokens). */
export function findLiveNamedToken(db: Db, userId: string, name: string, now: string) {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'created_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
}
