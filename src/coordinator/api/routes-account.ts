// Sign-in, sign-out and user administration.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import * as users from '../../store/repositories/users.js';
import { createUser, login, logout, removeUser, userView } from '../services/accounts.js';
import type { ServiceContext } from '../services/context.js';
import { notFound } from '../errors.js';
import { SESSION_COOKIE, requireAdmin, requireUser } from './principal.js';
import { CreateUserBody, LoginBody, UserNameParams } from './schemas.js';

export function accountRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/auth/login', { schema: { body: LoginBody, tags: ['auth'] } }, async (request, reply) => {
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

  r.get('/auth/me', { schema: { tags: ['auth'] } }, async (request) => {
    const me = requireUser(request);
    const row = await users.findUserById(ctx.db, me.id);
    if (!row) throw notFound('your user');
    return userView(row);
  });

  r.get('/users', { schema: { tags: ['users'] } }, async (request) => {
    requireAdmin(request);
    return { users: (await users.listUsers(ctx.db)).map(userView) };
  });

  r.post('/users', { schema: { body: CreateUserBody, tags: ['users'] } }, async (request, reply) => {
    requireAdmin(request);
    const user = await createUser(ctx, request.body.name, request.body.password, request.body.admin ?? false);
    return reply.code(201).send(user);
  });

  r.delete('/users/:name', { schema: { params: UserNameParams, tags: ['users'] } }, async (request, reply) => {
    await removeUser(ctx, request.params.name, requireAdmin(request));
    return reply.code(204).send();
  });
}
