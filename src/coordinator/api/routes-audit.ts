// The audit log, for admins.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context.js';
import { auditEntries } from '../services/audit.js';
import { badRequest } from '../errors.js';
import { requireAdmin } from './principal.js';

const AuditQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'a date or time (ISO 8601); entries at or after it' })),
    until: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'a date or time (ISO 8601); entries before it' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

/** A date or time as the store keeps it (ISO-8601 UTC), or a 400 that says what was wrong. */
function isoOf(field: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw badRequest(`${field} must be a date or time such as 2026-12-01 or 2026-12-01T09:30:00Z, not "${text}"`);
  return new Date(ms).toISOString();
}

export function auditRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get('/audit', { schema: { querystring: AuditQuery, tags: ['audit'] } }, async (request) => {
    requireAdmin(request);
    const q = request.query;
    const since = isoOf('since', q.since);
    const until = isoOf('until', q.until);
    return {
      entries: await auditEntries(ctx, {
        ...(q.user !== undefined ? { user: q.user } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
      }),
    };
  });
}
