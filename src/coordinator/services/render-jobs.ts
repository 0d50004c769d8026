// Render jobs: a Blender project, a frame range cut into chunks, one task per chunk, and every
// frame tracked on its own so a retry renders only what is missing.
import { checkBlendFile } from '../../render/blend-file.js';
import { type ImageFormat } from '../../render/blender-command.js';
import { chunkFrames, formatFrameList, FrameExpressionError, parseFrames } from '../../core/frames.js';
import type { JobRequirements } from '../../core/job-requirements.js';
import type { InstanceType } from '../../core/instance-types.js';
import { relativePathProblem } from '../../core/inputs.js';
import { NETWORK_DEFAULTS } from '../../core/task-network.js';
import * as framesRepo from '../../store/repositories/frames.js';
import { withLocalBlob } from '../../store/blob-store.js';
import type { Db } from '../../store/schema.js';
import { badRequest } from '../errors.js';
import type { UserPrincipal } from './accounts.js';
import { type ServiceContext } from './context.js';
import { resolveJobImage } from './images.js';
import { assertOwnsFiles, insertJobWithTasks, jobNameProblem, jobNetwork, type FileRef } from './jobs.js';

export interface RenderJobRequest {
  kind: 'render';
  name: string;
  project: { files: { path: string; sha256: string }[]; blend: string };
  frames: string;
  chunk?: number;
  scene?: string;
  format?: ImageFormat;
  samples?: number;
  resolution?: { width: number; height: number };
  percentage?: number;
  fps?: number;
  instanceType?: InstanceType;
  maxAttempts?: number;
  /** 0–100, higher leased first; default 50. */
  priority?: number;
  /** Jobs it waits for (see ScriptJobRequest). */
  after?: string[];
  afterAny?: boolean;
  cores?: number;
  requirements?: JobRequirements;
  taskTimeoutSeconds?: number;
  image?: string;
  network?: boolean;
  start?: boolean;
  /** One Blender process per task instead of a warm session. */
  cold?: boolean;
}

/** The render settings a job keeps and every one of its tasks receives. */
export interface RenderSettings {
  blend: string;
  frames: string;
  frameCount: number;
  chunk: number;
  scene: string | null;
  format: ImageFormat | null;
  samples: number | null;
  resolution: { width: number; height: number } | null;
  percentage: number | null;
  fps: number;
  cold: boolean;
}

export interface RenderJobSpec {
  render: RenderSettings;
  /** Project files, laid out under `project/` in each task's directory. */
  files: FileRef[];
  network: boolean;
}

export const PROJECT_DIR = 'project';

export async function createRenderJob(ctx: ServiceContext, user: UserPrincipal, req: RenderJobRequest): Promise<string> {
  const nameProblem = jobNameProblem(req.name);
  if (nameProblem) throw badRequest(nameProblem);
  let frames: number[];
  try {
    frames = parseFrames(req.frames);
  } catch (err) {
    if (err instanceof FrameExpressionError) throw badRequest(err.message);
    throw err;
  }
  const chunk = req.chunk ?? 1;
  const paths = new Set<string>();
  for (const f of req.project.files) {
    const problem = relativePathProblem(f.path);
    if (problem) throw badRequest(`project file: ${problem}`);
    if (paths.has(f.path)) throw badRequest(`project file "${f.path}" is listed twice`);
    paths.add(f.path);
  }
  if (!req.project.blend.toLowerCase().endsWith('.blend')) throw badRequest(`"${req.project.blend}" is not a .blend file`);
  const blend = req.project.files.find((f) => f.path === req.project.blend);
  if (!blend) throw badRequest(`the project has no file "${req.project.blend}"`);
  const files = req.project.files.map((f) => ({ name: `${PROJECT_DIR}/${f.path}`, sha256: f.sha256 }));
  await assertOwnsFiles(ctx, user.id, files);
  const check = await withLocalBlob(ctx.blobs, blend.sha256, (path) => checkBlendFile(path));
  if (!check.isBlend) throw badRequest(`"${req.project.blend}" is not a Blender file${check.reason ? ` (${check.reason})` : ''}`);

  const chunks = chunkFrames(frames, chunk);
  const spec: RenderJobSpec = {
    render: {
      blend: req.project.blend,
      frames: formatFrameList(frames),
      frameCount: frames.length,
      chunk,
      scene: req.scene ?? null,
      format: req.format ?? null,
      samples: req.samples ?? null,
      resolution: req.resolution ?? null,
      percentage: req.percentage ?? null,
      fps: req.fps ?? 24,
      cold: req.cold ?? false,
    },
    files,
    network: jobNetwork(ctx, req.network, NETWORK_DEFAULTS.render),
  };
  return insertJobWithTasks(
    ctx,
    user,
    {
      name: req.name,
      kind: 'render',
      instanceType: req.instanceType ?? 's',
      maxAttempts: req.maxAttempts ?? 3,
      priority: req.priority,
      after: req.after,
      afterAny: req.afterAny,
      cores: req.cores,
      requirements: req.requirements,
      taskTimeoutSeconds: req.taskTimeoutSeconds ?? null,
      image: await resolveJobImage(ctx.db, user.id, req.image),
      spec,
      start: req.start ?? false,
    },
    chunks.map((c) => ({ input: `frames ${c.label}`, inputSha: null, spec: { frames: c.frames } })),
    async (trx: Db, jobId, taskIds) => {
      const rows = chunks.flatMap((c, i) => c.frames.map((frame) => ({ job_id: jobId, frame, task_id: taskIds[i]! })));
      await framesRepo.insertFrames(trx, rows);
    },
  );
}

/** The render part of a job's view: settings, progress by frame, the last frame, the preview. */
export async function renderView(db: Db, jobId: string, settings: RenderSettings) {
  const [stats, last, preview] = await Promise.all([framesRepo.frameStats(db, jobId), framesRepo.lastFrame(db, jobId), framesRepo.findPreview(db, jobId)]);
  return {
    ...settings,
    framesDone: stats.done,
    lastFrame: last
      ? { frame: last.frame, path: last.path, sha256: last.sha256, thumbnail: last.thumb_sha, preview: last.preview_sha, renderMs: last.render_ms, finishedAt: last.finished_at }
      : null,
    preview: preview ? { status: preview.status, sha256: preview.sha256, size: preview.size === null ? null : Number(preview.size), error: preview.error } : null,
  };
}
