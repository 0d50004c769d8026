// Usage: core- and GPU-seconds per user, day and job (one's own; admins everyone's).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context.js';
import { usageReport } from '../services/usage.js';
import { UsageQuery, UsageReport } from '../../wire/index.js';
import { requireUser } from './principal.js';

export function usageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app
    .withTypeProvider<TypeBoxTypeProvider>()
    .get('/usage', { schema: { querystring: UsageQuery, response: { 200: UsageReport }, tags: ['usage'] } }, async (request) => usageReport(ctx, requireUser(request), request.query));
}
