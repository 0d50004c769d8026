// Users, sign-in and API tokens.
import { randomBytes } from 'node:crypto';
import { newSecret, randomId } from '../../core/ids.js';
import * as users from '../../store/repositories/users.js';
import { digestToken, hashPassword, verifyPassword } from '../auth/secrets.js';
import { HttpError, badRequest, conflict, forbidden, notFound, tooManyRequests, unauthorized } from '../errors.js';
import { ConfigError } from '../config.js';
import { type ServiceContext, isoIn, nowIso } from './context.js';
import { LoginThrottle } from './login-throttle.js';
import { audit } from './audit.js';
import type { ApiTokenView, UserView } from '../../wire/accounts.js';

export interface UserPrincipal {
  kind: 'user';
  id: string;
  name: string;
  admin: boolean;
  tokenId: string;
  /** The named API token the request came with; null for a sign-in. */
  tokenName: string | null;
}

export type { UserView } from '../../wire/accounts.js';

export const USER_TOKEN_PREFIX = 'drv_u';

export function userView(row: { id: string; name: string; is_admin: number; created_at: string }): UserView {
  return { id: row.id, name: row.name, admin: row.is_admin === 1, createdAt: row.created_at };
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function createUser(ctx: ServiceContext, name: string, password: string, admin: boolean): Promise<UserView> {
  if (!USER_NAME.test(name)) throw badRequest('a user name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  if (password.length < 4) throw badRequest('a password has at least 4 characters');
  if (await users.findUserByName(ctx.db, name)) throw conflict(`user "${name}" already exists`);
  const row = { id: randomId('u'), name, password_hash: await hashPassword(password), is_admin: admin ? 1 : 0, created_at: nowIso() };
  await users.insertUser(ctx.db, row);
  return userView(row);
}

/** An admin adds a user (recorded in the audit log). */
export async function createUserByAdmin(ctx: ServiceContext, name: string, password: string, admin: boolean, actor: UserPrincipal): Promise<UserView> {
  const user = await createUser(ctx, name, password, admin);
  await audit(ctx, actor, 'user.create', name, { admin });
  return user;
}

export async function removeUser(ctx: ServiceContext, name: string, actor: UserPrincipal): Promise<void> {
  const row = await users.findUserByName(ctx.db, name);
  if (!row) throw notFound(`user "${name}"`);
  if (row.id === actor.id) throw conflict('you cannot remove yourself');
  await users.deleteUser(ctx.db, row.id);
  await audit(ctx, actor, 'user.remove', name);
}

const MIN_PASSWORD = 4;

/** Changes one's own password, checking the current one; every other sign-in of the user ends. */
export async function changeOwnPassword(ctx: ServiceContext, me: UserPrincipal, current: string, password: string): Promise<void> {
  const row = await users.findUserById(ctx.db, me.id);
  if (!row) throw notFound('your user');
  if (!(await verifyPassword(current, row.password_hash))) throw badRequest('the current password is wrong');
  if (password.length < MIN_PASSWORD) throw badRequest(`a password has at least ${MIN_PASSWORD} characters`);
  await users.updateUser(ctx.db, row.id, { password_hash: await hashPassword(password) });
  await users.revokeTokensOfUserExcept(ctx.db, row.id, me.tokenId, nowIso());
  await audit(ctx, me, 'password.change', me.name);
}

/** An admin changes a user's role or sets a new password (which ends the user's sign-ins). */
export async function updateUserByAdmin(ctx: ServiceContext, name: string, change: { admin?: boolean; password?: string }, actor: UserPrincipal): Promise<UserView> {
  const row = await users.findUserByName(ctx.db, name);
  if (!row) throw notFound(`user "${name}"`);
  if (change.password !== undefined && change.password.length < MIN_PASSWORD) throw badRequest(`a password has at least ${MIN_PASSWORD} characters`);
  if (change.admin === false && row.is_admin === 1 && (await users.countAdmins(ctx.db)) <= 1) throw conflict('the farm needs at least one admin: make another user admin first');
  await users.updateUser(ctx.db, row.id, {
    ...(change.admin !== undefined ? { is_admin: change.admin ? 1 : 0 } : {}),
    ...(change.password !== undefined ? { password_hash: await hashPassword(change.password) } : {}),
  });
  if (change.password !== undefined) await users.revokeTokensOfUserExcept(ctx.db, row.id, row.id === actor.id ? actor.tokenId : null, nowIso());
  if (change.admin !== undefined && (change.admin ? 1 : 0) !== row.is_admin) await audit(ctx, actor, 'user.role', name, { admin: change.admin });
  if (change.password !== undefined) await audit(ctx, actor, 'user.password', name);
  return userView({ ...row, is_admin: change.admin === undefined ? row.is_admin : change.admin ? 1 : 0 });
}

/** A user's live tokens; `current` marks the one this request came with. */
export async function tokensOf(ctx: ServiceContext, name: string, actor: UserPrincipal) {
  const row = await userForTokens(ctx, name, actor);
  return (await users.liveTokensOf(ctx.db, row.id, nowIso())).map((t) => ({ id: t.id, name: t.name, createdAt: t.created_at, expiresAt: t.expires_at, current: t.id === actor.tokenId }));
}

export async function revokeTokenOfUser(ctx: ServiceContext, name: string, tokenId: string, actor: UserPrincipal): Promise<void> {
  const row = await userForTokens(ctx, name, actor);
  if (!(await users.revokeTokenOf(ctx.db, row.id, tokenId, nowIso()))) throw notFound(`live token ${tokenId} of "${name}"`);
  await audit(ctx, actor, 'token.revoke', tokenId, { user: name });
}

export type { ApiTokenView } from '../../wire/accounts.js';

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The longest lifetime a named token may be given; without one it lasts until revoked. */
export const MAX_TOKEN_SECONDS = 10 * 366 * 86400;

/**
 * Creates a named API token for a script or CI. The token is returned here once; the store keeps
 * only its digest. Names are unique among the user's live tokens, so `token revoke NAME` is exact.
 */
export async function createApiToken(ctx: ServiceContext, me: UserPrincipal, name: string, expiresInSeconds: number | null): Promise<ApiTokenView & { token: string }> {
  if (!TOKEN_NAME.test(name)) throw badRequest('a token name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  if (expiresInSeconds !== null && (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 60 || expiresInSeconds > MAX_TOKEN_SECONDS)) {
    throw badRequest('a token lasts between a minute and ten years (or, without an expiry, until revoked)');
  }
  const now = nowIso();
  if (await users.findLiveNamedToken(ctx.db, me.id, name, now)) throw conflict(`you already have a live token named "${name}": revoke it first or pick another name`);
  const token = newSecret(USER_TOKEN_PREFIX);
  const row = { id: randomId('k'), user_id: me.id, token_hash: digestToken(token), created_at: now, expires_at: expiresInSeconds === null ? null : isoIn(expiresInSeconds), name };
  await users.insertToken(ctx.db, row);
  await audit(ctx, me, 'token.create', row.id, { name, expiresAt: row.expires_at });
  return { id: row.id, name, createdAt: row.created_at, expiresAt: row.expires_at, current: false, token };
}

/** One's own live named API tokens (sign-ins are listed with `tokensOf`). */
export async function apiTokensOf(ctx: ServiceContext, me: UserPrincipal): Promise<ApiTokenView[]> {
  const rows = await users.liveTokensOf(ctx.db, me.id, nowIso());
  return rows.filter((t) => t.name !== null).map((t) => ({ id: t.id, name: t.name!, createdAt: t.created_at, expiresAt: t.expires_at, current: t.id === me.tokenId }));
}

/** Revokes one of one's own named tokens, by id or by name. */
export async function revokeApiToken(ctx: ServiceContext, me: UserPrincipal, idOrName: string): Promise<ApiTokenView> {
  const token = (await apiTokensOf(ctx, me)).find((t) => t.id === idOrName || t.name === idOrName);
  if (!token) throw notFound(`live API token "${idOrName}" of yours`);
  await users.revokeTokenOf(ctx.db, me.id, token.id, nowIso());
  await audit(ctx, me, 'token.revoke', token.id, { name: token.name });
  return token;
}

/** One's own tokens, or anyone's for an admin. */
async function userForTokens(ctx: ServiceContext, name: string, actor: UserPrincipal) {
  if (!actor.admin && name !== actor.name) throw forbidden("only admins see other people's tokens");
  const row = await users.findUserByName(ctx.db, name);
  if (!row) throw notFound(`user "${name}"`);
  return row;
}

/**
 * Makes sure the farm has an admin. Returns the password when it had to generate one, so the
 * caller can print it once; it is never stored in clear.
 */
export async function ensureAdmin(ctx: ServiceContext): Promise<{ created: boolean; generatedPassword?: string }> {
  if ((await users.countUsers(ctx.db)) > 0) return { created: false };
  const given = ctx.config.adminPassword;
  const password = given ?? randomBytes(12).toString('base64url');
  try {
    await createUser(ctx, 'admin', password, true);
  } catch (err) {
    // The operator's setting, not a request: say which one is wrong (the CLI prints it without a stack).
    if (err instanceof HttpError && err.status === 400) throw new ConfigError(`DROVER_ADMIN_PASSWORD: ${err.message}`);
    // Replicas starting at once race here; users.name is unique, so one wins and the rest find it.
    if (await users.findUserByName(ctx.db, 'admin')) return { created: false };
    throw err;
  }
  return given ? { created: true } : { created: true, generatedPassword: password };
}

const throttle = new LoginThrottle();

export async function login(ctx: ServiceContext, name: string, password: string, address: string): Promise<{ token: string; user: UserView }> {
  const key = `${name}\u0000${address}`;
  throttle.check(key);
  const row = await users.findUserByName(ctx.db, name);
  // Verify against a dummy hash for unknown users too, so timing does not tell which names exist.
  const ok = row ? await verifyPassword(password, row.password_hash) : (await verifyPassword(password, DUMMY_HASH), false);
  if (!row || !ok) {
    throttle.fail(key);
    throw unauthorized('wrong user name or password');
  }
  throttle.succeed(key);
  const token = newSecret(USER_TOKEN_PREFIX);
  await users.insertToken(ctx.db, {
    id: randomId('k'),
    user_id: row.id,
    token_hash: digestToken(token),
    created_at: nowIso(),
    expires_at: isoIn(ctx.config.tokenTtlDays * 86400),
  });
  return { token, user: userView(row) };
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** Ends a sign-in. A named API token is not ended by signing out with it: `token revoke` does that. */
export async function logout(ctx: ServiceContext, principal: UserPrincipal): Promise<void> {
  if (principal.tokenName !== null) return;
  await users.revokeToken(ctx.db, principal.tokenId, nowIso());
}

export async function authenticateUser(ctx: ServiceContext, token: string): Promise<UserPrincipal | null> {
  const row = await users.findUserByTokenHash(ctx.db, digestToken(token), nowIso());
  if (!row) return null;
  return { kind: 'user', id: row.id, name: row.name, admin: row.is_admin === 1, tokenId: row.token_id, tokenName: row.token_name };
}

