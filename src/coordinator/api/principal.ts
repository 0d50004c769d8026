// Who is calling: a user (API token or the web app's cookie) or an agent (its own credentials).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AGENT_TOKEN_PREFIX, type AgentPrincipal, authenticateAgent } from '../services/agents.js';
import { USER_TOKEN_PREFIX, type UserPrincipal, authenticateUser } from '../services/accounts.js';
import type { ServiceContext } from '../services/context.js';
import { forbidden, unauthorized } from '../errors.js';

export type Principal = UserPrincipal | AgentPrincipal;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    bearer: string | null;
  }
}

export const SESSION_COOKIE = 'drover_token';

export function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null;
  const cookie = request.cookies?.[SESSION_COOKIE];
  return cookie || null;
}

export function principalResolver(ctx: ServiceContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    request.bearer = bearerOf(request);
    request.principal = null;
    const token = request.bearer;
    if (!token || token.length > 512) return;
    if (token.startsWith(`${USER_TOKEN_PREFIX}_`)) request.principal = await authenticateUser(ctx, token);
    else if (token.startsWith(`${AGENT_TOKEN_PREFIX}_`)) request.principal = await authenticateAgent(ctx, token);
  };
}

export function requireUser(request: FastifyRequest): UserPrincipal {
  const p = request.principal;
  if (!p) throw unauthorized();
  if (p.kind !== 'user') throw forbidden('this endpoint is for users, not agents');
  return p;
}

export function requireAdmin(request: FastifyRequest): UserPrincipal {
  const user = requireUser(request);
  if (!user.admin) throw forbidden('only an admin may do this');
  return user;
}

export function requireAgent(request: FastifyRequest): AgentPrincipal {
  const p = request.principal;
  if (!p) throw unauthorized('this endpoint needs agent credentials');
  if (p.kind !== 'agent') throw forbidden('this endpoint is for agents');
  return p;
}
