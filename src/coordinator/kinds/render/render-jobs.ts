// Render jobs: a Blender project, a frame range cut into chunks, one task per chunk, and every
// frame tracked on its own so a retry renders only what is missing. Two steps: "Render" (the
// chunks), then "Preview" (one task, pending until every chunk has started) that an agent turns
// into the job's H.264 preview.
import { checkBlendFile } from '../../../render/blend-file.js';
import { PROJECT_DIR, type ImageFormat, type RenderJobSpec, type RenderSettings, type RenderView, type SceneSettingsSeen } from '../../../wire/render.js';
import { chunkFramesLazily, countChunks, formatFrameList, FrameExpressionError, parseFrames } from '../../../core/frames.js';
import type { InstanceType } from '../../../core/instance-types.js';
import { relativePathProblem } from '../../../core/inputs.js';
import { NETWORK_DEFAULTS } from '../../../core/task-network.js';
import * as framesRepo from '../../../store/repositories/frames.js';
import { withLocalBlob } from '../../../store/blob-store.js';
import type { Db } from '../../../store/schema.js';
import { badRequest } from '../../errors.js';
import type { UserPrincipal } from '../../services/accounts.js';
import { type ServiceContext } from '../../services/context.js';
import { resolveJobImage } from '../../services/images.js';
import { assertOwnsFiles, insertJobWithTasks, jobNameProblem, jobNetwork, type RunRequest, runSettings } from '../../services/job-creation.js';
import { assertTaskLimit } from '../../services/large-jobs.js';
import type { JobStep } from '../kind.js';

/** With what every kind says about running and scheduling its tasks (RunRequest). */
export interface RenderJobRequest extends RunRequest {
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
  image?: string;
  network?: boolean;
  /** One Blender process per task instead of a warm session. */
  cold?: boolean;
  sceneSettings?: SceneSettingsSeen;
}

// What a render job keeps and its leases carry is part of the wire contract (the agent reads it).
export { PROJECT_DIR, type RenderJobSpec, type RenderSettings, type SceneSettingsSeen } from '../../../wire/render.js';

/**
 * The steps of every render job: the chunks, then the preview made of their frames. The preview
 * follows the render: it starts once every chunk has started and encodes frames as they are
 * recorded, so the job ends moments after its last frame instead of an encode later.
 */
export const RENDER_STEP = 0;
export const PREVIEW_STEP = 1;
export const RENDER_STEPS = [
  { name: 'Render', dependsOn: [] },
  { name: 'Preview', dependsOn: [RENDER_STEP], follows: true },
] as const satisfies readonly JobStep[];

/** How the preview task is listed (its `input`). */
export const PREVIEW_TASK_INPUT = 'preview.mp4';

/** What a render task keeps of its own: the frames it renders. */
interface ChunkSpec {
  frames: number[];
}

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
  // Before anything is built for them: a million chunks are refused at once.
  assertTaskLimit(ctx, Math.ceil(frames.length / chunk));
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

  // Chunks are made as they are stored: a million of them are never all in memory (only counted first).
  const chunkCount = countChunks(frames, chunk);
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
      ...(req.sceneSettings ? { sceneSettings: req.sceneSettings } : {}),
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
      // The job's taskCount is its chunks, as before the preview became a task: the preview is shown as the preview.
      taskCount: chunkCount,
      ...runSettings(req),
      image: await resolveJobImage(ctx.db, user.id, req.image),
      spec,
    },
    (function* () {
      for (const c of chunkFramesLazily(frames, chunk)) yield { input: `frames ${c.label}`, inputSha: null, spec: { frames: c.frames } satisfies ChunkSpec, step: RENDER_STEP };
      yield { input: PREVIEW_TASK_INPUT, inputSha: null, spec: null, step: PREVIEW_STEP, pending: true };
    })(),
    async (trx: Db, jobId, inserted) => {
      const rows = inserted.flatMap(({ id, task }) => (task.step === RENDER_STEP ? (task.spec as ChunkSpec).frames.map((frame) => ({ job_id: jobId, frame, task_id: id })) : []));
      await framesRepo.insertFrames(trx, rows);
    },
  );
}

/** The render part of a job's view: settings, progress by frame, the last frame, the preview and the task making it. */
export async function renderView(db: Db, jobId: string, settings: RenderSettings, big = false): Promise<RenderView> {
  const [stats, last, preview, previewTask] = await Promise.all([
    framesRepo.frameStats(db, jobId, big),
    framesRepo.lastFrame(db, jobId),
    framesRepo.findPreview(db, jobId),
    previewTaskOf(db, jobId),
  ]);
  return {
    ...settings,
    framesDone: stats.done,
    lastFrame: last
      ? { frame: last.frame, path: last.path, sha256: last.sha256, thumbnail: last.thumb_sha, preview: last.preview_sha, renderMs: last.render_ms, finishedAt: last.finished_at }
      : null,
    preview: preview ? { status: preview.status, sha256: preview.sha256, size: preview.size === null ? null : Number(preview.size), error: preview.error } : null,
    previewTask,
  };
}

/** The preview step's task (null for jobs made before the preview was a step): where to find its agent and logs. */
async function previewTaskOf(db: Db, jobId: string) {
  const row = await db
    .selectFrom('tasks')
    .leftJoin('agents', 'agents.id', 'tasks.agent_id')
    .select(['tasks.id', 'tasks.idx', 'tasks.status', 'tasks.attempt', 'tasks.error', 'agents.name as agent'])
    .where('tasks.job_id', '=', jobId)
    .where('tasks.step', '=', PREVIEW_STEP)
    .executeTakeFirst();
  if (!row) return null;
  // As taskView: a done task's error column holds its warning.
  const done = row.status === 'done';
  return { id: row.id, index: row.idx, status: row.status, attempts: row.attempt, agent: row.agent ?? null, error: done ? null : row.error, warning: done ? row.error : null };
}
