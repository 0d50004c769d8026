// Collection: removes blobs no job, upload in progress or claim within the grace period refers to,
// record first and bytes after. A crash between the two leaves bytes without a record; the sweep of
// unrecorded files (at start, and on request) removes those, so collection always resumes.
import * as collectionRepo from '../../store/repositories/blob-collection.js';
import type { ServiceContext } from './context.js';
import type { CollectionReport } from '../../wire/storage.js';

export type { CollectionReport } from '../../wire/storage.js';

const PAGE = 500;

let running: Promise<CollectionReport> | null = null;

/** Runs one collection; a run asked for while one is under way waits for it and runs after. */
export async function collectBlobs(ctx: ServiceContext, opts: { dryRun?: boolean; sweepUnrecorded?: boolean } = {}): Promise<CollectionReport> {
  if (opts.dryRun) return collect(ctx, true, opts.sweepUnrecorded ?? true);
  while (running) await running.catch(() => undefined);
  running = collect(ctx, false, opts.sweepUnrecorded ?? false);
  try {
    return await running;
  } finally {
    running = null;
  }
}

async function collect(ctx: ServiceContext, dryRun: boolean, sweepUnrecorded: boolean): Promise<CollectionReport> {
  const graceSeconds = ctx.config.collectGraceSeconds;
  const cutoff = new Date(Date.now() - graceSeconds * 1000).toISOString();
  const report: CollectionReport = { dryRun, blobs: 0, bytes: 0, unrecordedFiles: 0, unrecordedBytes: 0, graceSeconds };
  const inSpecs = await collectionRepo.shasInJobSpecs(ctx.db);
  let after = '';
  for (;;) {
    const page = await collectionRepo.collectableBlobs(ctx.db, cutoff, PAGE, after);
    for (const blob of page) {
      if (inSpecs.has(blob.sha256)) continue;
      if (!dryRun) {
        if (!(await collectionRepo.removeIfUnreferenced(ctx.db, blob.sha256, cutoff))) continue;
        try {
          await ctx.blobs.remove(blob.sha256);
        } catch (err) {
          // The record is gone: the sweep of unrecorded files removes the bytes later.
          console.error(`[collection] could not remove blob ${blob.sha256}: ${(err as Error).message}`);
        }
      }
      report.blobs++;
      report.bytes += Number(blob.size);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.sha256;
  }
  if (!dryRun) await collectionRepo.pruneClaims(ctx.db, cutoff);
  if (sweepUnrecorded) await sweep(ctx, cutoff, dryRun, report);
  if (!dryRun && report.blobs + report.unrecordedFiles > 0) {
    console.log(`[collection] removed ${report.blobs} blob(s) (${report.bytes} bytes) and ${report.unrecordedFiles} unrecorded file(s) (${report.unrecordedBytes} bytes)`);
  }
  return report;
}

/** Files the store holds without a record, written before the cutoff and not claimed since. */
async function sweep(ctx: ServiceContext, cutoff: string, dryRun: boolean, report: CollectionReport): Promise<void> {
  const before = Date.parse(cutoff);
  let batch: { sha256: string; size: number }[] = [];
  const flush = async () => {
    const hashes = batch.map((b) => b.sha256);
    const [recorded, claimed] = await Promise.all([collectionRepo.recordedBlobs(ctx.db, hashes), collectionRepo.claimedSince(ctx.db, hashes, cutoff)]);
    for (const b of batch) {
      if (recorded.has(b.sha256) || claimed.has(b.sha256)) continue;
      if (!dryRun) await ctx.blobs.remove(b.sha256);
      report.unrecordedFiles++;
      report.unrecordedBytes += b.size;
    }
    batch = [];
  };
  for await (const entry of ctx.blobs.list()) {
    if (entry.modifiedAt.getTime() >= before) continue;
    batch.push(entry);
    if (batch.length >= PAGE) await flush();
  }
  if (batch.length > 0) await flush();
}
