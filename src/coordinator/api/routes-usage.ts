// Usage: core- and GPU-seconds per user, day and job (one's own; admins everyone's).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context.js';
import { usageReport } from '../services/usage.js';
import { requireUser } from './principal.js';

const UsageQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "one user's usage (admins; others may name only themselves)" })),
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'first day counted, e.g. 2026-12-01 (UTC)' })),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'last day counted, included' })),
  },
  { additionalProperties: false },
);

const Sums = {
  coreSeconds: Type.Number(),
  gpuSeconds: Type.Number(),
  jobs: Type.Integer(),
  tasks: Type.Integer(),
  attempts: Type.Integer(),
};

const UsageReply = Type.Object({
  since: Type.Union([Type.String(), Type.Null()]),
  until: Type.Union([Type.String(), Type.Null()]),
  users: Type.Array(Type.Object({ user: Type.String(), ...Sums })),
  days: Type.Array(Type.Object({ day: Type.String(), user: Type.String(), ...Sums })),
  jobs: Type.Array(Type.Object({ jobId: Type.String(), name: Type.String(), user: Type.String(), deleted: Type.Boolean(), ...Sums })),
});

export function usageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app
    .withTypeProvider<TypeBoxTypeProvider>()
    .get('/usage', { schema: { querystring: UsageQuery, response: { 200: UsageReply }, tags: ['usage'] } }, async (request) => usageReport(ctx, requireUser(request), request.query));
}
