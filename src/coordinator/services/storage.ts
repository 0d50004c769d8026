// The farm's storage as an admin sees it: bytes per user, in all, what collection would free now,
// and the retention setting.
import * as collectionRepo from '../../store/repositories/blob-collection.js';
import type { StorageView } from '../../wire/storage.js';
import { collectBlobs } from './blob-collection.js';
import type { ServiceContext } from './context.js';

export async function storageView(ctx: ServiceContext): Promise<StorageView> {
  const [users, total, collectable] = await Promise.all([collectionRepo.storageByUser(ctx.db), collectionRepo.blobTotals(ctx.db), collectBlobs(ctx, { dryRun: true })]);
  return {
    total,
    users,
    collectable,
    retention: ctx.config.retainFinishedDays !== undefined ? { finishedDays: ctx.config.retainFinishedDays, action: ctx.config.retainAction } : null,
  };
}
