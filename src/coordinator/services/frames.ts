// Frames arriving from agents while a render task runs: each is stored as soon as Blender saved
// it, so a crash keeps every finished frame and the retry renders only the rest.
import * as blobsRepo from '../../store/repositories/blobs.js';
import * as framesRepo from '../../store/repositories/frames.js';
import * as tasksRepo from '../../store/repositories/tasks.js';
import { relativePathProblem } from '../../core/inputs.js';
import { badRequest, leaseLost } from '../errors.js';
import type { AgentPrincipal } from './agents.js';
import { type ServiceContext, nowIso } from './context.js';

export interface FrameUpload {
  attempt: number;
  frame: number;
  /** Where the frame goes in the results, e.g. `frames/frame_00001.png`. */
  path: string;
  sha256: string;
  size: number;
  renderMs?: number;
  thumbnail?: string;
  preview?: string;
}

export async function recordFrameUpload(ctx: ServiceContext, agent: AgentPrincipal, taskId: string, upload: FrameUpload): Promise<void> {
  const problem = relativePathProblem(upload.path);
  if (problem) throw badRequest(problem);
  if (!upload.path.startsWith('frames/')) throw badRequest('a frame is stored under frames/');
  const hashes = [upload.sha256, upload.thumbnail, upload.preview].filter((h): h is string => !!h);
  const known = await blobsRepo.knownBlobs(ctx.db, hashes);
  if (hashes.some((h) => !known.has(h))) throw badRequest('upload the frame and its thumbnails before recording them');
  const jobId = await ctx.db.transaction().execute(async (trx) => {
    const task = await tasksRepo.findTask(trx, taskId);
    if (!task || task.status !== 'running' || task.agent_id !== agent.id || task.attempt !== upload.attempt) throw leaseLost(taskId);
    const frame = await framesRepo.findFrame(trx, task.job_id, upload.frame);
    if (!frame || frame.task_id !== taskId) throw badRequest(`frame ${upload.frame} is not part of task ${taskId}`);
    await framesRepo.recordFrame(trx, task.job_id, upload.frame, {
      path: upload.path,
      sha256: upload.sha256,
      size: upload.size,
      render_ms: upload.renderMs ?? null,
      thumb_sha: upload.thumbnail ?? null,
      preview_sha: upload.preview ?? null,
      attempt: upload.attempt,
      finished_at: nowIso(),
    });
    return task.job_id;
  });
  ctx.bus.emit('job', jobId);
}
