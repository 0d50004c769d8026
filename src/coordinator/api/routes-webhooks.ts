// A user's webhooks and their delivery logs. Each user sees and changes only their own.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context.js';
import { WEBHOOK_EVENTS, addWebhook, deliveriesOf, removeWebhook, webhooksOf } from '../services/webhooks.js';
import { requireUser } from './principal.js';

const strict = { additionalProperties: false } as const;
// The events are checked by the service, so an unknown one is named in the message.
const AddWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000 }),
    events: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 10, description: `some of ${WEBHOOK_EVENTS.join(', ')} (default all)` })),
  },
  strict,
);
const WebhookParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
const DeliveriesQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, strict);

export function webhookRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/webhooks', { schema: { body: AddWebhookBody, tags: ['webhooks'] } }, async (request, reply) => {
    const created = await addWebhook(ctx, requireUser(request), request.body.url, request.body.events);
    return reply.code(201).send(created);
  });

  r.get('/webhooks', { schema: { tags: ['webhooks'] } }, async (request) => ({ webhooks: await webhooksOf(ctx, requireUser(request)) }));

  r.delete('/webhooks/:id', { schema: { params: WebhookParams, tags: ['webhooks'] } }, async (request, reply) => {
    await removeWebhook(ctx, requireUser(request), request.params.id);
    return reply.code(204).send();
  });

  r.get('/webhooks/:id/deliveries', { schema: { params: WebhookParams, querystring: DeliveriesQuery, tags: ['webhooks'] } }, async (request) => ({
    deliveries: await deliveriesOf(ctx, requireUser(request), request.params.id, request.query.limit ?? 100),
  }));
}
