// What the farm's storage holds and what collection frees (GET /storage, POST /storage/collect; admins).
import { Type, type Static } from '@sinclair/typebox';
import { Nullable } from './common.js';

export const CollectionReport = Type.Object({
  dryRun: Type.Boolean({ description: 'nothing removed: what a run would remove' }),
  blobs: Type.Integer(),
  bytes: Type.Number(),
  unrecordedFiles: Type.Integer({ description: "files in the blob store with no record (a crash's leftovers), older than the grace period" }),
  unrecordedBytes: Type.Number(),
  graceSeconds: Type.Number(),
});
export type CollectionReport = Static<typeof CollectionReport>;

export const UserStorage = Type.Object({
  user: Type.String(),
  jobs: Type.Integer(),
  archivedJobs: Type.Integer(),
  bytes: Type.Number({ description: "bytes of the distinct blobs the user's jobs refer to (inputs and results) and the user uploaded" }),
  blobs: Type.Integer(),
});
export type UserStorage = Static<typeof UserStorage>;

export const StorageView = Type.Object({
  total: Type.Object({ blobs: Type.Integer(), bytes: Type.Number() }),
  users: Type.Array(UserStorage),
  collectable: CollectionReport,
  retention: Nullable(Type.Object({ finishedDays: Type.Number(), action: Type.String() })),
});
export type StorageView = Static<typeof StorageView>;
