// The render task on a warm Blender: the task's frames are fed to a session of the agent's pool,
// each saved frame moves into the task's run-result/frames/ and is uploaded exactly as a cold
// task's (render-program.ts). Jobs submitted with --cold, and jobs in a container image, keep one
// Blender process per task.
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RenderJobSpec } from '../../wire/render.js';
import { FRAMES_DIR, frameUploader, renderProgram, type RenderTaskSpec } from '../render-program.js';
import type { ProgramFactory } from '../task-program.js';
import type { SessionPool } from './session-pool.js';

export function warmRenderProgram(pool: SessionPool | null): ProgramFactory {
  return async (ctx) => {
    const { task, taskDir, scratchDir, log } = ctx;
    const job = task.jobSpec as RenderJobSpec;
    const { frames, allFrames } = task.taskSpec as RenderTaskSpec;
    if (!pool || job.render.cold || frames.length === 0) return renderProgram(ctx);
    if (task.gpuDevices?.length) {
      // A warm Blender is shared by the project's tasks, which may each lease other GPUs.
      log(`the task leased GPU ${task.gpuDevices.join(',')}: one Blender with those GPUs, no warm session`);
      return renderProgram(ctx);
    }
    if (task.image) {
      // A session would have to live in a container of its own; not done yet.
      log(`the job runs in the container image ${task.image}: one Blender per task, no warm session`);
      return renderProgram(ctx);
    }
    if (frames.length < allFrames.length) log(`rendering the missing frames only: ${frames.join(', ')}`);
    await mkdir(join(taskDir, FRAMES_DIR), { recursive: true });
    await mkdir(scratchDir, { recursive: true });
    const uploader = frameUploader(ctx);
    const ordered = [...frames].sort((a, b) => a - b);
    return {
      argv: [],
      ownsFiles: true,
      async execute({ stdout, stderr, signal, releaseCores }) {
        let session;
        try {
          const got = await pool.acquire({ jobId: task.jobId, job, files: task.files, threads: task.cores }, { stdout, stderr }, signal);
          session = got.session;
          log(
            got.fresh
              ? `warm session ${session.id} (pid ${session.pid}) started${got.fromSpare ? ' from the spare Blender' : ''} in ${(session.startedMs / 1000).toFixed(1)} s`
              : `warm session ${session.id} (pid ${session.pid}) reused, ${session.frames} frame(s) rendered before`,
          );
        } catch (err) {
          return { code: null, error: `the warm Blender session could not start: ${(err as Error).message}` };
        }
        let healthy = false;
        try {
          for (const frame of ordered) {
            if (signal.aborted) return { code: null, error: 'the task was stopped' };
            if (frame === ordered.at(-1)) {
              // Pipelining: the next task is leased and set up while this frame renders, and is
              // handed this session the moment the frame is saved.
              session.finishing = true;
              releaseCores();
            }
            const result = await session.render(frame, signal);
            const name = basename(result.path);
            await moveFile(result.path, join(taskDir, FRAMES_DIR, name));
            uploader.add(frame, name, result.seconds * 1000);
          }
          healthy = true;
          return { code: 0 };
        } catch (err) {
          return { code: null, error: (err as Error).message };
        } finally {
          pool.release(session, healthy);
        }
      },
      afterExit: () => uploader.drain(),
      alreadySent: () => uploader.sent,
    };
  };
}

/** A rename: the session and task directories are both in the agent's work directory. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}
