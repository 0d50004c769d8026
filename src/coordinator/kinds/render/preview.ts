// The preview step of a render job, on the coordinator's side: its lease carries the job's frames
// (the agent fetches them from the blob store and runs ffmpeg, see src/agent/preview-program.ts);
// its end fills the job's preview. The coordinator itself runs no ffmpeg. A preview that could not
// be made never fails a finished render: it is `unavailable` with the reason, and the job is done.
import * as framesRepo from '../../../store/repositories/frames.js';
import type { Db } from '../../../store/schema.js';
import { nowIso } from '../../services/context.js';
import type { LeasedTask } from '../../services/leasing.js';
import type { EndingTask, TaskEnding } from '../kind.js';
import type { RenderJobSpec } from './render-jobs.js';
import { PREVIEW_FILE, type PreviewTaskSpec } from '../../../wire/render.js';

// What the preview task's lease carries, and the file it reports, are part of the wire contract.
export { PREVIEW_FILE, type PreviewTaskSpec } from '../../../wire/render.js';

/** Makes the lease of a preview task: the `preview` program, over the frames delivered. */
export async function leasePreview(trx: Db, leased: LeasedTask): Promise<void> {
  const job = leased.jobSpec as RenderJobSpec;
  const frames = await framesRepo.doneFramesOfJob(trx, leased.jobId);
  leased.kind = 'preview';
  // The agent fetches the frames itself (by reference, not copied into the task directory).
  leased.files = [];
  leased.taskSpec = { frames: frames.map((f) => ({ frame: f.frame, path: f.path!, sha256: f.sha256! })), fps: job.render.fps } satisfies PreviewTaskSpec;
  await framesRepo.setPreview(trx, leased.jobId, { status: 'pending', sha256: null, size: null, error: null, updated_at: nowIso() });
}

/** Keeps the preview of an ended preview task; a failed one ends done, its reason kept as the preview's. */
export async function settlePreview(trx: Db, task: EndingTask, ending: TaskEnding): Promise<TaskEnding> {
  const now = nowIso();
  const video = ending.status === 'done' ? ending.files.find((f) => f.path === PREVIEW_FILE) : undefined;
  if (video) {
    await framesRepo.setPreview(trx, task.job_id, { status: 'ready', sha256: video.sha256, size: video.size, error: null, updated_at: now });
    return ending;
  }
  const reason = ending.error ?? `the agent reported no ${PREVIEW_FILE}`;
  await framesRepo.setPreview(trx, task.job_id, { status: 'unavailable', sha256: null, size: null, error: reason, updated_at: now });
  return { status: 'done', error: ending.status === 'done' ? reason : `no preview: ${reason}`, files: ending.files };
}
