// The farm's storage, for admins: bytes per user, what collection would free, and running it.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { collectBlobs } from '../services/blob-collection.js';
import { storageView } from '../services/storage.js';
import type { ServiceContext } from '../services/context.js';
import { requireAdmin } from './principal.js';
import { CollectionReport, StorageView } from '../../wire/storage.js';

export function storageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/storage', { schema: { response: { 200: StorageView }, tags: ['storage'] } }, async (request) => {
    requireAdmin(request);
    return storageView(ctx);
  });

  r.post('/storage/collect', { schema: { response: { 200: CollectionReport }, tags: ['storage'] } }, async (request) => {
    requireAdmin(request);
    return collectBlobs(ctx, { sweepUnrecorded: true });
  });
}
