// The render task: Blender renders the task's frames; each frame is uploaded with its thumbnails
// the moment Blender reports it saved, so a crash loses no finished frame.
import { copyFile, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ApiError } from '../client/api-client.js';
import type { RenderJobSpec } from '../wire/render.js';
import { PROJECT_DIR } from '../wire/render.js';
import { buildBlenderCommand, RENDER_SETUP_PY, type RenderOverrides } from '../render/blender-command.js';
import { BlenderOutputParser, type BlenderEvent } from '../render/blender-output.js';
import { makeThumbnails } from '../render/thumbnails.js';
import { type FileToUpload, readFileForUpload, SMALL_FILE_BYTES, uploadFiles } from './result-files.js';
import type { ProgramContext, ProgramFactory, TaskProgram } from './task-program.js';

export const FRAMES_DIR = 'run-result/frames';
const SETUP_SCRIPT = '.drover/render_setup.py';

export interface RenderTaskSpec {
  /** The frames to render now: those no earlier attempt delivered. */
  frames: number[];
  /** Every frame of the task. */
  allFrames: number[];
}

/** Blender's arguments for the task, with paths relative to the task directory. */
export function renderArgs(job: RenderJobSpec, frames: readonly number[], threads: number, gpus: readonly number[] = []): string[] {
  const r = job.render;
  const overrides: RenderOverrides = {};
  // Only a task that leased GPUs touches Cycles' device: the others render as the file says.
  if (gpus.length > 0) overrides.gpus = [...gpus];
  if (r.samples) overrides.samples = r.samples;
  if (r.resolution) overrides.resolution = [r.resolution.width, r.resolution.height];
  if (r.percentage) overrides.percentage = r.percentage;
  const command = buildBlenderCommand({
    blendFile: posix.join(PROJECT_DIR, r.blend),
    outputDir: FRAMES_DIR,
    frames,
    threads,
    overrides,
    resolvePaths: false,
    setupScript: SETUP_SCRIPT,
    ...(r.scene ? { scene: r.scene } : {}),
    ...(r.format ? { format: r.format } : {}),
  });
  return [command.program, ...command.args];
}

export const renderProgram: ProgramFactory = async ({ task, taskDir, scratchDir, client, blobs, log, stop }): Promise<TaskProgram> => {
  const job = task.jobSpec as RenderJobSpec;
  const { frames, allFrames } = task.taskSpec as RenderTaskSpec;
  if (frames.length === 0) {
    log('every frame of this task was rendered by an earlier attempt');
    return { argv: ['true'] };
  }
  if (frames.length < allFrames.length) log(`rendering the missing frames only: ${frames.join(', ')}`);
  await mkdir(join(taskDir, '.drover'), { recursive: true });
  await copyFile(RENDER_SETUP_PY, join(taskDir, SETUP_SCRIPT));
  await mkdir(join(taskDir, FRAMES_DIR), { recursive: true });
  await mkdir(scratchDir, { recursive: true });

  const uploader = frameUploader({ task, taskDir, scratchDir, client, blobs, log, stop });
  const parser = new BlenderOutputParser();
  const onEvent = (event: BlenderEvent) => {
    if (event.type !== 'saved' || event.frame === null) return;
    // Blender prints the absolute path; inside a container it is under /local.
    uploader.add(event.frame, event.path.split('/').pop()!, event.elapsedMs);
  };
  return {
    argv: renderArgs(job, frames, task.cores, task.gpuDevices ?? []),
    onStdout(chunk) {
      for (const e of parser.push(chunk)) onEvent(e);
    },
    async afterExit() {
      for (const e of parser.end()) onEvent(e);
      await uploader.drain();
    },
    alreadySent: () => uploader.sent,
  };
};

export interface FrameUploader {
  /** Queues the upload of a frame Blender saved as FRAMES_DIR/`name` in the task directory. */
  add(frame: number, name: string, elapsedMs: number | null): void;
  /** Resolves when every queued frame is uploaded (or failed to). */
  drain(): Promise<void>;
  /** Result paths already sent (frames/NAME), which the task's report leaves out. */
  readonly sent: Set<string>;
}

/**
 * Uploads each frame with its thumbnails and reports it (POST /agent/tasks/:id/frames), one after
 * another in the order saved, while the renderer goes on. Shared by cold and warm render tasks.
 * The frame is uploaded from the copy kept in the agent's blob cache (the job's preview reads it
 * there when this agent makes it), or, when small, from the bytes that copy was written from, with
 * its thumbnails in one request (uploadFiles).
 */
export function frameUploader({ task, taskDir, scratchDir, client, blobs, log, stop }: Pick<ProgramContext, 'task' | 'taskDir' | 'scratchDir' | 'client' | 'blobs' | 'log' | 'stop'>): FrameUploader {
  const sent = new Set<string>();
  let uploads: Promise<void> = Promise.resolve();
  const uploadFrame = async (frame: number, relative: string, local: string, elapsedMs: number | null) => {
    try {
      const { sha256, size, path: kept, bytes } = await blobs.adopt(local, { keepBytesUpTo: SMALL_FILE_BYTES });
      const thumbs = await makeThumbnails(local, join(scratchDir, 'thumbs'), { baseName: `frame-${frame}` });
      const files: FileToUpload[] = [{ sha256, absPath: kept, ...(bytes ? { bytes } : {}) }];
      let thumbnail: string | undefined;
      let preview: string | undefined;
      if (thumbs.ok) {
        // Thumbnails are small by design: read once, hashed and sent from memory.
        const small = await readFileForUpload(thumbs.thumbnail.path);
        thumbnail = small.sha256;
        files.push(small);
        // One file when the frame is no wider than its thumbnail: hash it once.
        if (thumbs.preview.path === thumbs.thumbnail.path) preview = thumbnail;
        else {
          const larger = await readFileForUpload(thumbs.preview.path);
          preview = larger.sha256;
          files.push(larger);
        }
      } else log(`no thumbnail for frame ${frame}: ${thumbs.reason}`);
      await uploadFiles(client, files);
      await client.json(
        'POST',
        `/agent/tasks/${task.taskId}/frames`,
        { attempt: task.attempt, frame, path: relative, sha256, size, ...(elapsedMs !== null ? { renderMs: Math.round(elapsedMs) } : {}), ...(thumbnail ? { thumbnail } : {}), ...(preview ? { preview } : {}) },
        { retryForMs: 60_000 },
      );
      sent.add(relative);
      log(`frame ${frame} saved and uploaded (${relative})`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'lease_lost') return stop('lease-lost');
      log(`frame ${frame} could not be uploaded: ${(err as Error).message}`);
    }
  };
  return {
    add(frame, name, elapsedMs) {
      // The frame's place in the results is what follows run-result/.
      const relative = `frames/${name}`;
      const local = join(taskDir, FRAMES_DIR, name);
      uploads = uploads.then(() => uploadFrame(frame, relative, local, elapsedMs));
    },
    drain: () => uploads,
    sent,
  };
}
