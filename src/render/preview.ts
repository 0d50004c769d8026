// An H.264 MP4 of a job's frames, for watching a render in the browser. Optional: without ffmpeg
// the result says why and nothing else breaks. ffmpeg runs as a child process, never blocking.
//
// The frames are linked, in order, into a temporary folder as 000001.png, 000002.png, … so
// ffmpeg's image2 reader sees one gap-free sequence whatever the frame numbers were (a
// concat list would need a duration per frame and is fussy about the last one).
import { copyFile, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
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
  if (!(options.fps > 0) || !Number.isFinite(options.fps)) return { ok: false, reason: `invalid fps ${options.fps}` };
  const extension = path.extname(framePaths[0]!).toLowerCase();
  if (framePaths.some((p) => path.extname(p).toLowerCase() !== extension)) {
    return { ok: false, reason: 'frames have different file types; a preview needs one' };
  }
  const maxWidth = options.maxWidth ?? 1280;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-preview-'));
  try {
    for (const [i, frame] of framePaths.entries()) {
      const link = path.join(dir, `${String(i + 1).padStart(6, '0')}${extension}`);
      // Copy where symlinks are not allowed (some Windows setups): slower, same result.
      await symlink(path.resolve(frame), link).catch(() => copyFile(frame, link));
    }
    await mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
    // Linear EXR frames would look dark: decode them with the sRGB transfer applied.
    const trc = extension === '.exr' ? ['-apply_trc', 'iec61966_2_1'] : [];
    const args = [
      '-v', 'error', '-nostdin', '-y',
      '-framerate', String(options.fps),
      ...trc,
      '-start_number', '1',
      '-i', path.join(dir, `%06d${extension}`),
      // H.264 in yuv420p needs even dimensions; -2 keeps the aspect ratio with an even height.
      '-vf', `scale='trunc(min(iw,${maxWidth})/2)*2':-2,format=yuv420p`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(options.crf ?? 23),
      '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-an',
      path.resolve(outPath),
    ];
    let result;
    try {
      result = await runProcess(options.ffmpeg ?? 'ffmpeg', args, { timeoutMs: options.timeoutMs ?? 10 * 60_000, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      if (err instanceof ProgramNotFoundError) return { ok: false, reason: 'ffmpeg is not installed, so there is no preview video' };
      throw err;
    }
    if (result.code !== 0) {
      const why = result.timedOut ? 'timed out' : result.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${result.code}`;
      return { ok: false, reason: `ffmpeg failed: ${why}` };
    }
    const { size } = await stat(outPath);
    return { ok: true, path: path.resolve(outPath), frameCount: framePaths.length, fps: options.fps, bytes: size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
