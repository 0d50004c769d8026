// Small images of rendered frames for the web app (a thumbnail and a larger preview), and raw
// pixel decoding for tests that compare renders (PNGs carry a date stamp: never compare bytes).
// sharp reads PNG, JPEG, TIFF, WebP; for what it cannot read (OpenEXR, Radiance HDR) ffmpeg
// converts the frame to a PNG first, applying the sRGB transfer so linear EXR looks right.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ProgramNotFoundError, runProcess } from '../process/run-process.js';

export type ThumbnailFormat = 'jpeg' | 'webp';

export interface ImageVariant {
  path: string;
  width: number;
  height: number;
  format: ThumbnailFormat;
  bytes: number;
}

export type ThumbnailResult =
  | { ok: true; thumbnail: ImageVariant; preview: ImageVariant; convertedWith?: 'ffmpeg' }
  | { ok: false; reason: string };

export interface ThumbnailOptions {
  thumbnailWidth?: number;
  previewWidth?: number;
  format?: ThumbnailFormat;
  /** Output names are `<baseName>.thumb.<ext>` and `<baseName>.preview.<ext>`; default: the frame's name. */
  baseName?: string;
  ffmpeg?: string;
}

/** Frames rendered with a transparent film are flattened onto this for JPEG (no alpha there). */
const BACKGROUND = '#202020';

export async function makeThumbnails(framePath: string, outDir: string, options: ThumbnailOptions = {}): Promise<ThumbnailResult> {
  const format = options.format ?? 'jpeg';
  const base = options.baseName ?? path.parse(framePath).name;
  await mkdir(outDir, { recursive: true });

  const readable = await readableBySharp(framePath, options.ffmpeg ?? 'ffmpeg');
  if (!readable.ok) return readable;
  try {
    const thumbnailWidth = options.thumbnailWidth ?? 320;
    const previewWidth = options.previewWidth ?? 1280;
    const thumbnail = await writeVariant(readable.input, path.join(outDir, `${base}.thumb.${ext(format)}`), thumbnailWidth, format);
    // A frame no wider than its thumbnail (the benchmark's 320 px frames too) gives the same
    // image at both sizes: encode it once.
    const sameImage = thumbnail.width < thumbnailWidth || readable.width === thumbnail.width || previewWidth <= thumbnailWidth;
    const preview = sameImage ? thumbnail : await writeVariant(readable.input, path.join(outDir, `${base}.preview.${ext(format)}`), previewWidth, format);
    return readable.convertedWith ? { ok: true, thumbnail, preview, convertedWith: readable.convertedWith } : { ok: true, thumbnail, preview };
  } finally {
    await readable.cleanup();
  }
}

const ext = (format: ThumbnailFormat) => (format === 'jpeg' ? 'jpg' : 'webp');

async function writeVariant(input: string, out: string, width: number, format: ThumbnailFormat): Promise<ImageVariant> {
  let pipeline = sharp(input).resize({ width, withoutEnlargement: true });
  pipeline = format === 'jpeg' ? pipeline.flatten({ background: BACKGROUND }).jpeg({ quality: 82 }) : pipeline.webp({ quality: 80 });
  const info = await pipeline.toFile(out);
  return { path: out, width: info.width, height: info.height, format, bytes: info.size };
}

type Readability =
  | { ok: true; input: string; convertedWith?: 'ffmpeg'; cleanup: () => Promise<void>; /** The frame's, when sharp read it directly. */ width?: number }
  | { ok: false; reason: string };

/** A path sharp can read with the frame's pixels: the frame itself, or an ffmpeg-made PNG. */
async function readableBySharp(framePath: string, ffmpeg: string): Promise<Readability> {
  try {
    const { width } = await sharp(framePath).metadata();
    return { ok: true, input: framePath, cleanup: async () => {}, ...(width !== undefined ? { width } : {}) };
  } catch (err) {
    const sharpError = (err as Error).message;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-thumb-'));
    const png = path.join(dir, 'frame.png');
    const cleanup = () => rm(dir, { recursive: true, force: true });
    try {
      // -apply_trc is an input option of ffmpeg's EXR decoder: linear light to sRGB.
      const trc = /\.exr$/i.test(framePath) ? ['-apply_trc', 'iec61966_2_1'] : [];
      const result = await runProcess(ffmpeg, ['-v', 'error', '-nostdin', ...trc, '-i', framePath, '-frames:v', '1', '-y', png], { timeoutMs: 120_000 });
      if (result.code === 0 && (await stat(png).catch(() => undefined))) return { ok: true, input: png, convertedWith: 'ffmpeg', cleanup };
      await cleanup();
      return { ok: false, reason: `neither sharp (${sharpError}) nor ffmpeg (${result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`}) can read ${framePath}` };
    } catch (ffErr) {
      await cleanup();
      if (ffErr instanceof ProgramNotFoundError) {
        return { ok: false, reason: `sharp cannot read ${path.basename(framePath)} (${sharpError}) and ffmpeg, which could convert it, is not installed` };
      }
      throw ffErr;
    }
  }
}

export interface DecodedPixels {
  /** RGBA, row-major, top row first; 8 bits per channel (16 for 16-bit sources, see depth). */
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
  depth: 8 | 16;
}

/** Decode an image to raw RGBA pixels (an alpha channel is added when the image has none). */
export async function decodePixels(imagePath: string): Promise<DecodedPixels> {
  const meta = await sharp(imagePath).metadata();
  const sixteen = meta.depth === 'ushort';
  const { data, info } = await sharp(imagePath)
    .ensureAlpha()
    .toColourspace(sixteen ? 'rgb16' : 'srgb')
    .raw({ depth: sixteen ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 4, depth: sixteen ? 16 : 8 };
}
