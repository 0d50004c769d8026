// The preview task of a render job (lease kind `preview`): the job's frames, fetched through the
// agent's blob cache, made into an H.264 preview.mp4 with ffmpeg (src/render/preview.ts) and
// reported as the task's one result file. A preview that cannot be made (no ffmpeg here, frames
// ffmpeg cannot read) is not a failure: the task succeeds with the reason as its warning, and the
// job's render ends done with its preview `unavailable`.
//
// The job ends when its preview is made, so the task is on the job's critical path: ffmpeg starts
// at once and is fed each frame in order as it arrives, while the next ones are fetched in parallel
// (frames already in the cache cost nothing).
import { join } from 'node:path';
import type { PreviewTaskSpec } from '../wire/render.js';
import { PREVIEW_FILE } from '../wire/render.js';
import { MIXED_TYPES, commonExtension, streamPreviewVideo } from '../render/preview.js';
import type { ProgramFactory } from './task-program.js';

/** Frames fetched ahead of the one ffmpeg reads: enough to hide the round trips, few enough to share the coordinator. */
const FETCH_AHEAD = 8;

export const previewProgram: ProgramFactory = async ({ task, taskDir, blobs, log }) => {
  const own = task.taskSpec as PreviewTaskSpec;
  return {
    argv: [],
    // The frames are read from the cache, never copied into the task directory: a long render's frames can be large.
    ownsFiles: true,
    async execute(io) {
      const extension = commonExtension(own.frames.map((f) => f.path));
      if (extension === null) {
        log(`no preview: ${MIXED_TYPES}`);
        return { code: 0, warning: MIXED_TYPES };
      }
      const shas = own.frames.map((f) => f.sha256);
      const here = (await Promise.all(shas.map((sha) => blobs.has(sha)))).filter(Boolean).length;
      log(`making ${PREVIEW_FILE} of ${shas.length} frame(s) at ${own.fps} fps (${here} of them already on this agent)`);
      const frames = { extension, count: shas.length, paths: fetchedInOrder(shas, (sha) => blobs.ensure(sha), FETCH_AHEAD) };
      const result = await streamPreviewVideo(frames, join(taskDir, 'run-result', PREVIEW_FILE), { fps: own.fps, signal: io.signal });
      if (!result.ok) {
        log(`no preview: ${result.reason}`);
        return { code: 0, warning: result.reason };
      }
      io.stdout(Buffer.from(`${PREVIEW_FILE}: ${result.frameCount} frames at ${result.fps} fps, ${result.bytes} bytes\n`));
      return { code: 0 };
    },
  };
};

/**
 * Each item's fetch, in order, with up to `ahead` more started before it is asked for. A fetch that
 * fails is the caller's to hear of when it reaches that item, never an unhandled rejection when it
 * stops before.
 */
export function* fetchedInOrder<T>(items: readonly T[], fetch: (item: T) => Promise<string>, ahead: number): Generator<Promise<string>> {
  const started: Promise<string>[] = [];
  for (let i = 0; i < items.length; i++) {
    while (started.length < Math.min(items.length, i + 1 + ahead)) {
      const fetching = fetch(items[started.length]!);
      fetching.catch(() => undefined);
      started.push(fetching);
    }
    yield started[i]!;
  }
}
