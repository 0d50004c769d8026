// The H.264 preview of a finished render job, made on the coordinator with ffmpeg after the last
// frame is in. It never blocks the frames: the job is done first, the preview follows.
import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { makePreviewVideo } from '../../render/preview.js';
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as framesRepo from '../../store/repositories/frames.js';
import * as jobsRepo from '../../store/repositories/jobs.js';
import { type ServiceContext, nowIso } from './context.js';
import type { RenderJobSpec } from './render-jobs.js';

const inFlight = new Set<string>();

export function schedulePreview(ctx: ServiceContext, jobId: string): void {
  if (inFlight.has(jobId)) return;
  inFlight.add(jobId);
  void makePreview(ctx, jobId)
    .catch(async (err: Error) => {
      await framesRepo.setPreview(ctx.db, jobId, { status: 'failed', sha256: null, size: null, error: err.message, updated_at: nowIso() }).catch(() => undefined);
    })
    .finally(() => {
      inFlight.delete(jobId);
      ctx.bus.emit('job', jobId);
    });
}

async function makePreview(ctx: ServiceContext, jobId: string): Promise<void> {
  const job = await jobsRepo.findJob(ctx.db, jobId);
  if (!job || job.kind !== 'render' || job.status !== 'done') return;
  const spec = JSON.parse(job.spec) as RenderJobSpec;
  await framesRepo.setPreview(ctx.db, jobId, { status: 'pending', sha256: null, size: null, error: null, updated_at: nowIso() });
  ctx.bus.emit('job', jobId);
  const frames = await framesRepo.doneFramesOfJob(ctx.db, jobId);
  const dir = await mkdtemp(join(tmpdir(), 'drover-preview-'));
  try {
    // The blob store names files by hash; ffmpeg needs local files with their extensions.
    const paths: string[] = [];
    for (const f of frames) {
      const local = join(dir, basename(f.path!));
      await ctx.blobs.materialize(f.sha256!, local);
      paths.push(local);
    }
    const out = join(dir, 'preview.mp4');
    const result = await makePreviewVideo(paths, out, { fps: spec.render.fps });
    if (!result.ok) {
      await framesRepo.setPreview(ctx.db, jobId, { status: 'unavailable', sha256: null, size: null, error: result.reason, updated_at: nowIso() });
      return;
    }
    const stored = await ctx.blobs.put(createReadStream(out));
    await blobsRepo.recordBlob(ctx.db, stored.sha256, stored.size, nowIso());
    await framesRepo.setPreview(ctx.db, jobId, { status: 'ready', sha256: stored.sha256, size: stored.size, error: null, updated_at: nowIso() });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** After a restart: previews that were being made, or never started, are made now. */
export async function resumePreviews(ctx: ServiceContext): Promise<void> {
  const rows = await ctx.db
    .selectFrom('jobs')
    .leftJoin('job_previews', 'job_previews.job_id', 'jobs.id')
    .select('jobs.id')
    .where('jobs.kind', '=', 'render')
    .where('jobs.status', '=', 'done')
    .where((eb) => eb.or([eb('job_previews.status', 'is', null), eb('job_previews.status', '=', 'pending')]))
    .execute();
  for (const r of rows) schedulePreview(ctx, r.id);
}
