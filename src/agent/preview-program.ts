// The preview task of a render job (lease kind `preview`): the job's frames, fetched through the
// agent's blob cache, made into an H.264 preview.mp4 with ffmpeg (src/render/preview.ts) and
// reported as the task's one result file. A preview that cannot be made (no ffmpeg here, frames
// ffmpeg cannot read) is not a failure: the task succeeds with the reason as its warning, and the
// job's render ends done with its preview `unavailable`.
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { relativePathProblem } from '../core/inputs.js';
import type { PreviewTaskSpec } from '../wire/render.js';
import { PREVIEW_FILE } from '../wire/render.js';
import { makePreviewVideo } from '../render/preview.js';
import type { ProgramFactory } from './task-program.js';

/** Where the frames are laid out, beside run-result/ (they are the job's results already). */
const FRAMES_DIR = 'frames-in';

export const previewProgram: ProgramFactory = async ({ task, taskDir, blobs, log }) => {
  const own = task.taskSpec as PreviewTaskSpec;
  return {
    argv: [],
    // The frames are linked from the cache, not copied: a long render's frames can be large.
    ownsFiles: true,
    async execute(io) {
      const paths: string[] = [];
      for (const f of own.frames) {
        const problem = relativePathProblem(f.path);
        if (problem) throw new Error(`refusing frame ${f.frame}: ${problem}`);
        const local = join(taskDir, FRAMES_DIR, f.path);
        await mkdir(dirname(local), { recursive: true });
        await symlink(await blobs.ensure(f.sha256), local);
        paths.push(local);
      }
      log(`making ${PREVIEW_FILE} of ${paths.length} frame(s) at ${own.fps} fps`);
      const result = await makePreviewVideo(paths, join(taskDir, 'run-result', PREVIEW_FILE), { fps: own.fps, signal: io.signal });
      if (!result.ok) {
        log(`no preview: ${result.reason}`);
        return { code: 0, warning: result.reason };
      }
      io.stdout(Buffer.from(`${PREVIEW_FILE}: ${result.frameCount} frames at ${result.fps} fps, ${result.bytes} bytes\n`));
      return { code: 0 };
    },
  };
};
