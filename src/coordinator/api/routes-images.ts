// A user's named container images. Each user sees and changes only their own.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context.js';
import { addImage, listImages, removeImage } from '../services/images.js';
import { requireUser } from './principal.js';
import { audit } from '../services/audit.js';
import { AddImageBody, ImageList, ImageNameParams, ImageView } from '../../wire/images.js';

export function imageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/images', { schema: { response: { 200: ImageList }, tags: ['images'] } }, async (request) => ({ images: await listImages(ctx, requireUser(request).id) }));

  r.post('/images', { schema: { body: AddImageBody, response: { 201: ImageView }, tags: ['images'] } }, async (request, reply) => {
    const user = requireUser(request);
    const image = await addImage(ctx, user.id, request.body);
    await audit(ctx, user, 'image.add', request.body.name, { ref: request.body.ref });
    return reply.code(201).send(image);
  });

  r.delete('/images/:name', { schema: { params: ImageNameParams, response: { 204: { type: 'null', description: 'removed' } }, tags: ['images'] } }, async (request, reply) => {
    const user = requireUser(request);
    await removeImage(ctx, user.id, request.params.name);
    await audit(ctx, user, 'image.remove', request.params.name);
    return reply.code(204).send();
  });
}
