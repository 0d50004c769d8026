// Sign-in, sign-out and user administration.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { apiTokensOf, changeOwnPassword, createApiToken, createUserByAdmin, login, logout, removeUser, revokeApiToken, revokeTokenOfUser, tokensOf, updateUserByAdmin } from '../services/accounts.js';
import type { ServiceContext } from '../services/context.js';
import { allQuotaViews, setUserQuota } from '../services/quotas.js';
import { currentUser, userNamed, usersWithQuotas } from '../services/user-views.js';
import { SESSION_COOKIE, requireAdmin, requireUser } from './principal.js';
import { ApiTokenList, ApiTokenView, ChangePasswordBody, CreatedApiToken, CreateApiTokenBody, CreateUserBody, LoginAnswer, LoginBody, UpdateUserBody, UserList, UserNameParams, UserTokenParams, TokenRefParams, UserTokenList, UserView, UserWithQuota } from '../../wire/index.js';

export function accountRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/auth/login', { schema: { body: LoginBody, response: { 200: LoginAnswer }, tags: ['auth'] } }, async (request, reply) => {
    const result = await login(ctx, request.body.username, request.body.password, request.ip);
    reply.setCookie(SESSION_COOKIE, result.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      maxAge: ctx.config.tokenTtlDays * 86400,
    });
    return result;
  });

  r.post('/auth/logout', { schema: { tags: ['auth'] } }, async (request, reply) => {
    await logout(ctx, requireUser(request));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.code(204).send();
  });

  r.get('/auth/me', { schema: { response: { 200: UserView }, tags: ['auth'] } }, async (request) => {
    return currentUser(ctx, requireUser(request));
  });

  r.post('/auth/password', { schema: { body: ChangePasswordBody, tags: ['auth'] } }, async (request, reply) => {
    await changeOwnPassword(ctx, requireUser(request), request.body.current, request.body.password);
    return reply.code(204).send();
  });

  r.patch('/users/:name', { schema: { params: UserNameParams, body: UpdateUserBody, response: { 200: UserWithQuota }, tags: ['users'] } }, async (request) => {
    const actor = requireAdmin(request);
    const { admin, password, maxCores, monthlyCoreHours, overBudget } = request.body;
    // The role first: it may be refused (the last admin), while the quota's values were checked by the schema already.
    const roleChange = { ...(admin !== undefined ? { admin } : {}), ...(password !== undefined ? { password } : {}) };
    const user = Object.keys(roleChange).length > 0 ? await updateUserByAdmin(ctx, request.params.name, roleChange, actor) : await userNamed(ctx, request.params.name);
    const quotaChange = { ...(maxCores !== undefined ? { maxCores } : {}), ...(monthlyCoreHours !== undefined ? { monthlyCoreHours } : {}), ...(overBudget !== undefined ? { overBudget } : {}) };
    const quota = Object.keys(quotaChange).length > 0 ? await setUserQuota(ctx, request.params.name, quotaChange, actor) : undefined;
    return { ...user, quota: quota ?? (await allQuotaViews(ctx.db)).get(user.id)! };
  });

  r.get('/users/:name/tokens', { schema: { params: UserNameParams, response: { 200: UserTokenList }, tags: ['users'] } }, async (request) => ({
    tokens: await tokensOf(ctx, request.params.name, requireUser(request)),
  }));

  r.delete('/users/:name/tokens/:id', { schema: { params: UserTokenParams, tags: ['users'] } }, async (request, reply) => {
    await revokeTokenOfUser(ctx, request.params.name, request.params.id, requireUser(request));
    return reply.code(204).send();
  });

  // Named API tokens for scripts and CI: one's own only.
  r.post('/tokens', { schema: { body: CreateApiTokenBody, response: { 201: CreatedApiToken }, tags: ['tokens'] } }, async (request, reply) => {
    const created = await createApiToken(ctx, requireUser(request), request.body.name, request.body.expiresInSeconds ?? null);
    return reply.code(201).send(created);
  });

  r.get('/tokens', { schema: { response: { 200: ApiTokenList }, tags: ['tokens'] } }, async (request) => ({ tokens: await apiTokensOf(ctx, requireUser(request)) }));

  r.delete('/tokens/:ref', { schema: { params: TokenRefParams, response: { 200: ApiTokenView }, tags: ['tokens'] } }, async (request) => revokeApiToken(ctx, requireUser(request), request.params.ref));

  r.get('/users', { schema: { response: { 200: UserList }, tags: ['users'] } }, async (request) => {
    requireAdmin(request);
    // Each with their use against their limits (`quota`: cap, budget, running cores, this month's core-seconds).
    return usersWithQuotas(ctx);
  });

  r.post('/users', { schema: { body: CreateUserBody, response: { 201: UserView }, tags: ['users'] } }, async (request, reply) => {
    const user = await createUserByAdmin(ctx, request.body.name, request.body.password, request.body.admin ?? false, requireAdmin(request));
    return reply.code(201).send(user);
  });

  r.delete('/users/:name', { schema: { params: UserNameParams, tags: ['users'] } }, async (request, reply) => {
    await removeUser(ctx, request.params.name, requireAdmin(request));
    return reply.code(204).send();
  });
}
