// Content-addressed uploads, as the blob routes record them: which files a caller still has to
// send, claims that keep files from collection while they are in use, and who sent what.
import * as collectionRepo from '../../store/repositories/blob-collection.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import type { AgentPrincipal } from './agents.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext, nowIso } from './context.js';

/** Whoever asks about or sends these is about to use them: collection spares them for its grace period. */
export async function claimBlobsInUse(ctx: ServiceContext, hashes: readonly string[], now = nowIso()): Promise<void> {
  await collectionRepo.claimBlobs(ctx.db, hashes, now);
}

/** Which of `hashes` the caller must send: users what *they* have not sent, agents what the store lacks. */
export async function missingBlobs(ctx: ServiceContext, caller: UserPrincipal | AgentPrincipal, hashes: readonly string[]): Promise<string[]> {
  await claimBlobsInUse(ctx, hashes);
  const present = caller.kind === 'user' ? await blobsRepo.ownedBlobs(ctx.db, caller.id, hashes) : await blobsRepo.knownBlobs(ctx.db, hashes);
  const missing: string[] = [];
  for (const h of hashes) if (!present.has(h) || !(await ctx.blobs.has(h))) missing.push(h);
  return missing;
}

/** Records files just stored, and that a user sent them (they may use them in jobs from now on). */
export async function recordStoredBlobs(ctx: ServiceContext, caller: UserPrincipal | AgentPrincipal, stored: readonly { sha256: string; size: number }[], now = nowIso()): Promise<void> {
  for (const s of stored) {
    await blobsRepo.recordBlob(ctx.db, s.sha256, s.size, now);
    if (caller.kind === 'user') await blobsRepo.recordBlobOwner(ctx.db, caller.id, s.sha256);
  }
}
