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

export async function insertUser(db: Db, row: UserRow): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export async function insertToken(db: Db, row: { id: string; user_id: string; token_hash: string; created_at: string; expires_at: string | null }): Promise<void> {
  await db.insertInto('api_tokens').values({ ...row, revoked_at: null }).execute();
}

/** The user behind a live token: not revoked, not expired. */
export function findUserByTokenHash(db: Db, tokenHash: string, now: string) {
  return db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['users.id', 'users.name', 'users.is_admin', 'users.created_at', 'api_tokens.id as token_id', 'api_tokens.token_hash'])
    .where('api_tokens.token_hash', '=', tokenHash)
    .where('api_tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('api_tokens.expires_at', 'is', null), eb('api_tokens.expires_at', '>', now)]))
    .executeTakeFirst();
}

export async function revokeToken(db: Db, tokenId: string, now: string): Promise<void> {
  await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', tokenId).execute();
}
