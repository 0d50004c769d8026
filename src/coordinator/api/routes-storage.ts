// The farm's storage, for admins: bytes per user, what collection would free, and running it.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import * as collectionRepo from '../../store/repositories/blob-collection.js';
import { collectBlobs } from '../services/blob-collection.js';
import type { ServiceContext } from '../services/context.js';
import { requireAdmin } from './principal.js';
import { CollectionReport, StorageView } from '../../wire/storage.js';

export function storageRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/storage', { schema: { response: { 200: StorageView }, tags: ['storage'] } }, async (request) => {
    requireAdmin(request);
    const [users, total, collectable] = await Promise.all([collectionRepo.storageByUser(ctx.db), collectionRepo.blobTotals(ctx.db), collectBlobs(ctx, { dryRun: true })]);
    return {
      total,
      users,
      collectable,
      retention: ctx.config.retainFinishedDays !== undefined ? { finishedDays: ctx.config.retainFinishedDays, action: ctx.config.retainAction } : null,
    };
  });

  r.post('/storage/collect', { schema: { response: { 200: CollectionReport }, tags: ['storage'] } }, async (request) => {
    requireAdmin(request);
    return collectBlobs(ctx, { sweepUnrecorded: true });
  });
}
