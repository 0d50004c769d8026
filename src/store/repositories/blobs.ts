// Which blobs exist and which user sent which: a user may only use files that user uploaded, so
// knowing a hash never grants another user's file.
import type { Db } from '../schema.js';
import { inLists } from '../statement-shapes.js';

export async function recordBlob(db: Db, sha256: string, size: number, now: string): Promise<void> {
  await db.insertInto('blobs').values({ sha256, size, created_at: now }).onConflict((oc) => oc.column('sha256').doNothing()).execute();
}

export async function recordBlobOwner(db: Db, userId: string, sha256: string): Promise<void> {
  await db.insertInto('blob_owners').values({ user_id: userId, sha256 }).onConflict((oc) => oc.columns(['user_id', 'sha256']).doNothing()).execute();
}

/** The subset of `hashes` this user has uploaded. */
export async function ownedBlobs(db: Db, userId: string, hashes: readonly string[]): Promise<Set<string>> {
  const owned = new Set<string>();
  for (const part of inLists(hashes)) {
    const rows = await db.selectFrom('blob_owners').select('sha256').where('user_id', '=', userId).where('sha256', 'in', part).execute();
    for (const r of rows) owned.add(r.sha256);
  }
  return owned;
}

/** The subset of `hashes` that are stored at all. */
export async function knownBlobs(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (const part of inLists(hashes)) {
    const rows = await db.selectFrom('blobs').select('sha256').where('sha256', 'in', part).execute();
    for (const r of rows) known.add(r.sha256);
  }
  return known;
}
