// The preview task of a render job (lease kind `preview`): the job's frames, fetched through the
// agent's blob cache, made into an H.264 preview.mp4 with ffmpeg (src/render/preview.ts) and
// reported as the task's one result file. A preview that cannot be made (no ffmpeg here, frames
// ffmpeg cannot read) is not a failure: the task succeeds with the reason as its warning, and the
// job's render ends done with its preview `unavailable`.
//
// The job ends when its preview is made, so the task is on the job's critical path. It starts once
// every chunk has started (the step follows the render), while the last frames are still being
// rendered: ffmpeg starts with the first frame and is fed each in order as it is recorded, while
// the next ones are fetched in parallel (frames already in the cache cost nothing), so what is left
// after the last frame is that frame and the end of the encode.
import { extname, join } from 'node:path';
import type { PreviewFramesAnswer, PreviewTaskSpec } from '../wire/render.js';
import { PREVIEW_FILE } from '../wire/render.js';
import { MIXED_TYPES, commonExtension, streamPreviewVideo } from '../render/preview.js';
import { RecordedFrames } from './recorded-frames.js';
import type { ProgramFactory } from './task-program.js';

/** Frames fetched ahead of the one ffmpeg reads: enough to hide the round trips, few enough to share the coordinator. */
const FETCH_AHEAD = 8;
/** How long one ask for frames still being rendered waits on the coordinator before asking again. */
const FRAMES_WAIT_SECONDS = 20;

/** A frame of another file type than the first: the preview is not made (MIXED_TYPES). */
class MixedTypesError extends Error {}

export const previewProgram: ProgramFactory = async ({ task, taskDir, blobs, client, log }) => {
  const own = task.taskSpec as PreviewTaskSpec;
  return {
    argv: [],
    // The frames are read from the cache, never copied into the task directory: a long render's frames can be large.
    ownsFiles: true,
    async execute(io) {
      const known = own.frames.flatMap((f) => (f.path === null ? [] : [f.path]));
      if (commonExtension(known) === null) {
        log(`no preview: ${MIXED_TYPES}`);
        return { code: 0, warning: MIXED_TYPES };
      }
      const frames = new RecordedFrames(own.frames, async (from) => {
        const query = `attempt=${task.attempt}&from=${from}&waitSeconds=${FRAMES_WAIT_SECONDS}`;
        // A coordinator restarting meanwhile is waited for, as the render's own frames wait for it.
        const answer = await client.json<PreviewFramesAnswer>('GET', `/agent/tasks/${task.taskId}/preview-frames?${query}`, undefined, { signal: io.signal, retryForMs: Infinity });
        return answer.frames;
      });
      const rendering = frames.count - frames.recorded;
      log(`making ${PREVIEW_FILE} of ${frames.count} frame(s) at ${own.fps} fps${rendering > 0 ? `, ${rendering} of them still being rendered` : ''}`);
      // The first frame's file type picks ffmpeg's reader (it may still be rendering).
      const extension = extname((await frames.get(0)).path).toLowerCase();
      let here = 0;
      const fetchFrame = async (i: number) => {
        const frame = await frames.get(i);
        if (extname(frame.path).toLowerCase() !== extension) throw new MixedTypesError(MIXED_TYPES);
        if (await blobs.has(frame.sha256)) here++;
        return blobs.ensure(frame.sha256);
      };
      const indexes = Array.from({ length: frames.count }, (_, i) => i);
      const input = { extension, count: frames.count, paths: fetchedInOrder(indexes, fetchFrame, FETCH_AHEAD) };
      let result;
      try {
        result = await streamPreviewVideo(input, join(taskDir, 'run-result', PREVIEW_FILE), { fps: own.fps, signal: io.signal });
      } catch (err) {
        if (!(err instanceof MixedTypesError)) throw err;
        result = { ok: false as const, reason: MIXED_TYPES };
      }
      if (!result.ok) {
        log(`no preview: ${result.reason}`);
        return { code: 0, warning: result.reason };
      }
      log(`${here} of the ${frames.count} frame(s) were on this agent already`);
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
