// A render job's frames and preview video as its owner (or an admin) reads them.
import * as framesRepo from '../../store/repositories/frames.js';
import type { JobRow } from '../../store/repositories/jobs.js';
import { isBigJob } from '../../store/off-thread-reads.js';
import type { FramePage } from '../../wire/index.js';
import { notFound } from '../errors.js';
import type { ServiceContext } from './context.js';

/** A page of the job's frames, with how many there are and how many are done. */
export async function framePageOf(ctx: ServiceContext, job: JobRow, offset: number, limit: number): Promise<FramePage> {
  const rows = await framesRepo.listFrames(ctx.db, job.id, offset, limit);
  const stats = await framesRepo.frameStats(ctx.db, job.id, isBigJob(job));
  return {
    total: stats.total,
    done: stats.done,
    frames: rows.map((f) => ({
      frame: f.frame,
      status: f.sha256 ? 'done' : f.task_status,
      taskIndex: f.task_index,
      path: f.path,
      sha256: f.sha256,
      size: f.size === null ? null : Number(f.size),
      thumbnail: f.thumb_sha,
      preview: f.preview_sha,
      renderMs: f.render_ms,
      attempt: f.attempt,
      finishedAt: f.finished_at,
    })),
  };
}

/** A frame of the job that has been rendered; 404 for one not (yet) rendered. */
export async function renderedFrame(ctx: ServiceContext, job: JobRow, frame: number) {
  const row = await framesRepo.findFrame(ctx.db, job.id, frame);
  if (!row || !row.sha256) throw notFound(`frame ${frame} of job ${job.id}`);
  return { ...row, sha256: row.sha256 };
}

/** The job's preview video once it is made; 404 before, or when it could not be made. */
export async function readyPreview(ctx: ServiceContext, job: JobRow) {
  const preview = await framesRepo.findPreview(ctx.db, job.id);
  if (!preview || preview.status !== 'ready') throw notFound(`the preview video of job ${job.id}`);
  return preview;
}
