// An H.264 MP4 of a job's frames, for watching a render in the browser. Optional: without ffmpeg
// the result says why and nothing else breaks. ffmpeg runs as a child process, never blocking.
//
// Frames of the types ffmpeg reads from a pipe (PNG, JPEG, EXR, TIFF…) are piped into its stdin in
// order, each as soon as it is at hand, so the encode runs while later frames are still fetched.
// Others are linked, in order, into a temporary folder as 000001.tga, 000002.tga, … so ffmpeg's
// image2 reader sees one gap-free sequence whatever the frame numbers were (a concat list would
// need a duration per frame and is fussy about the last one). Both make the same video.
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { ProgramNotFoundError, runProcess } from '../process/run-process.js';

export type PreviewVideoResult =
  | { ok: true; path: string; frameCount: number; fps: number; bytes: number }
  | { ok: false; reason: string };

export interface PreviewVideoOptions {
  /** Frames per second, the scene's fps (e.g. 24 or 24 / 1.001). */
  fps: number;
  /** Frames wider than this are scaled down. Default 1280. */
  maxWidth?: number;
  /** x264 quality, lower is better. Default 23. */
  crf?: number;
  ffmpeg?: string;
  timeoutMs?: number;
  /** Stops ffmpeg (the task was stopped). */
  signal?: AbortSignal;
}

export async function makePreviewVideo(framePaths: readonly string[], outPath: string, options: PreviewVideoOptions): Promise<PreviewVideoResult> {
  if (framePaths.length === 0) return { ok: false, reason: 'no frames to make a preview of' };
  const extension = commonExtension(framePaths);
  if (extension === null) return { ok: false, reason: MIXED_TYPES };
  return streamPreviewVideo({ extension, count: framePaths.length, paths: framePaths.map((p) => Promise.resolve(p)) }, outPath, options);
}

/** Why frames of several file types make no preview. */
export const MIXED_TYPES = 'frames have different file types; a preview needs one';

/** The one file type (`.png`, lower case) of these frame paths, or null when they have several. */
export function commonExtension(framePaths: readonly string[]): string | null {
  const extension = path.extname(framePaths[0] ?? '').toLowerCase();
  return framePaths.every((p) => path.extname(p).toLowerCase() === extension) ? extension : null;
}

/** Frames for a preview, in order: each a promise of its local path (they may still be arriving). */
export interface PreviewFrames {
  /** Their one file type (`.png`), which their paths need not end with (e.g. files in a blob cache). */
  extension: string;
  count: number;
  /** Iterated in order, once; a frame's promise may be settled or not yet. */
  paths: Iterable<Promise<string>>;
}

/**
 * Frame types ffmpeg reads from a pipe, by extension: those frames are piped into ffmpeg in order
 * as they arrive, so encoding starts with the first frame instead of after the last one. Other
 * types (TGA, Cineon, HDR have no pipe reader) are linked into a numbered sequence once all are here.
 */
const PIPE_DEMUXERS: Readonly<Record<string, string>> = {
  '.png': 'png_pipe',
  '.jpg': 'jpeg_pipe',
  '.jpeg': 'jpeg_pipe',
  '.exr': 'exr_pipe',
  '.tif': 'tiff_pipe',
  '.tiff': 'tiff_pipe',
  '.bmp': 'bmp_pipe',
  '.webp': 'webp_pipe',
  '.dpx': 'dpx_pipe',
};

/** The preview of frames that may still be arriving (see PreviewFrames); the same video as makePreviewVideo. */
export async function streamPreviewVideo(frames: PreviewFrames, outPath: string, options: PreviewVideoOptions): Promise<PreviewVideoResult> {
  if (frames.count === 0) return { ok: false, reason: 'no frames to make a preview of' };
  if (!(options.fps > 0) || !Number.isFinite(options.fps)) return { ok: false, reason: `invalid fps ${options.fps}` };
  const extension = frames.extension.toLowerCase();
  await mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
  const demuxer = PIPE_DEMUXERS[extension];
  if (demuxer) {
    const input = ['-f', demuxer, '-framerate', String(options.fps), ...decodeArgs(extension), '-i', 'pipe:0'];
    return encode(input, frames.count, outPath, options, (stdin) => pipeFrames(frames.paths, stdin, options.signal));
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-preview-'));
  try {
    let i = 0;
    for (const frame of frames.paths) {
      const link = path.join(dir, `${String(++i).padStart(6, '0')}${extension}`);
      const file = await frame;
      // Copy where symlinks are not allowed (some Windows setups): slower, same result.
      await symlink(path.resolve(file), link).catch(() => copyFile(file, link));
    }
    const input = ['-framerate', String(options.fps), ...decodeArgs(extension), '-start_number', '1', '-i', path.join(dir, `%06d${extension}`)];
    return await encode(input, frames.count, outPath, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Linear EXR frames would look dark: decode them with the sRGB transfer applied. */
function decodeArgs(extension: string): string[] {
  return extension === '.exr' ? ['-apply_trc', 'iec61966_2_1'] : [];
}

/** Runs ffmpeg from `input` (its arguments up to and with -i) to the H.264 preview. */
async function encode(input: string[], count: number, outPath: string, options: PreviewVideoOptions, feed?: (stdin: Writable) => Promise<void>): Promise<PreviewVideoResult> {
  const maxWidth = options.maxWidth ?? 1280;
  const args = [
    '-v', 'error', '-nostdin', '-y',
    ...input,
    // H.264 in yuv420p needs even dimensions; -2 keeps the aspect ratio with an even height.
    '-vf', `scale='trunc(min(iw,${maxWidth})/2)*2':-2,format=yuv420p`,
    // zerolatency: each frame is encoded as it arrives (no lookahead, B-frames or frame threads
    // holding frames back), so a preview fed frames as they render is finished moments after the
    // last one; at 1280×720, the encode after the last frame took about half as long (a preview
    // gives up a little compression for it).
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-crf', String(options.crf ?? 23),
    '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-an',
    path.resolve(outPath),
  ];
  let result;
  try {
    result = await runProcess(options.ffmpeg ?? 'ffmpeg', args, { timeoutMs: options.timeoutMs ?? 10 * 60_000, ...(options.signal ? { signal: options.signal } : {}), ...(feed ? { feed } : {}) });
  } catch (err) {
    if (err instanceof ProgramNotFoundError) return { ok: false, reason: 'ffmpeg is not installed, so there is no preview video' };
    throw err;
  }
  if (result.code !== 0) {
    const why = result.timedOut ? 'timed out' : result.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${result.code}`;
    return { ok: false, reason: `ffmpeg failed: ${why}` };
  }
  // ffmpeg ended well, yet not every frame reached it: one could not be fetched or read, which
  // is the caller's failure (a task retries it), not a preview that cannot be made.
  if (result.fed) throw result.fed;
  const { size } = await stat(outPath);
  return { ok: true, path: path.resolve(outPath), frameCount: count, fps: options.fps, bytes: size };
}

/** Writes each frame's bytes into ffmpeg's stdin, in order, as each arrives; stops when ffmpeg does. */
async function pipeFrames(paths: Iterable<Promise<string>>, stdin: Writable, signal?: AbortSignal): Promise<void> {
  for (const frame of paths) {
    const file = await frame;
    for await (const chunk of createReadStream(file)) {
      if (signal?.aborted) throw new Error('stopped');
      if (stdin.destroyed) throw new Error('ffmpeg stopped reading its frames');
      if (!stdin.write(chunk)) await drained(stdin);
    }
  }
}

/** Resolves when `stream` takes more; rejects when it closes first (its reader went away). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      stream.off('drain', onDrain);
      reject(new Error('ffmpeg stopped reading its frames'));
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
