// The Blender command line for one render task. Blender handles its arguments strictly in order
// (each one acts when it is reached, and -f / -a render immediately), so the order here is the
// point of this module:
//   blender -b FILE -noaudio --python-exit-code 1 [-y] [--scene S] -o OUT/PATTERN [-F FMT] -x 1
//           --python render_setup.py -t N (-f A,B,C | -s A -e B -j STEP -a) -- OVERRIDES_JSON
// The overrides travel after `--`, which ends Blender's own parsing: everything Blender must act
// on comes before it, and render_setup.py reads the JSON from sys.argv.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { frameRangeOf, MAX_FRAME } from '../core/frames.js';
import { IMAGE_FORMATS, type ImageFormat } from '../core/image-formats.js';

export const RENDER_SETUP_PY = fileURLToPath(new URL('./blender/render_setup.py', import.meta.url));

// Image formats a task may render to: Blender's enum names that -F also accepts (TARGA is -F TGA).
// The list is part of the wire contract (a render request's `format`).
export { IMAGE_FORMATS, type ImageFormat };

const EXTENSIONS: Record<ImageFormat, string> = {
  PNG: '.png',
  JPEG: '.jpg',
  OPEN_EXR: '.exr',
  OPEN_EXR_MULTILAYER: '.exr',
  TIFF: '.tif',
  BMP: '.bmp',
  WEBP: '.webp',
  TARGA: '.tga',
  HDR: '.hdr',
};
const CLI_FORMAT_NAMES: Partial<Record<ImageFormat, string>> = { TARGA: 'TGA' };

export function isImageFormat(value: string): value is ImageFormat {
  return (IMAGE_FORMATS as readonly string[]).includes(value);
}

/** The file extension Blender adds (with -x 1) for an image format. */
export function extensionFor(format: ImageFormat): string {
  return EXTENSIONS[format];
}

export interface RenderOverrides {
  samples?: number;
  resolution?: [width: number, height: number];
  percentage?: number;
  /** The GPUs the task leased (the agent's indices, as in CUDA_VISIBLE_DEVICES): Cycles renders on them. */
  gpus?: number[];
}

export interface RenderTaskSpec {
  blendFile: string;
  /** Folder the frames are written to (created by Blender if needed). */
  outputDir: string;
  /** The task's frames; an arithmetic run renders with -s/-e/-j/-a, anything else with -f. */
  frames: readonly number[];
  scene?: string;
  /** Image format; omit to keep the file's own (render_setup.py refuses movie formats). */
  format?: ImageFormat;
  overrides?: RenderOverrides;
  /** Render threads; 0 (default) lets Blender use every core. */
  threads?: number;
  /** Blender output pattern inside outputDir: '#' run = zero-padded frame. Default "frame_#####". */
  filePattern?: string;
  /** Allow Python scripts inside the .blend (drivers, handlers). Off by default, as in Blender. */
  enableAutoexec?: boolean;
  blender?: string;
  /**
   * Resolve the blend file and output folder against the current directory (default). The agent
   * passes false and runs Blender in the task directory, so the same arguments work in a container.
   */
  resolvePaths?: boolean;
  /** The render_setup.py to run (default: the one beside this module). */
  setupScript?: string;
}

export interface BlenderCommand {
  program: string;
  args: string[];
  /** Absolute -o argument. */
  outputPattern: string;
  /** Paths Blender will write, when the format is known (spec.format). */
  expectedOutputs?: string[];
}

export const DEFAULT_FILE_PATTERN = 'frame_#####';

export function buildBlenderCommand(spec: RenderTaskSpec): BlenderCommand {
  const frames = [...spec.frames];
  if (frames.length === 0) throw new RangeError('a render task needs at least one frame');
  for (const f of frames) {
    if (!Number.isSafeInteger(f) || f < 0 || f > MAX_FRAME) throw new RangeError(`invalid frame ${f}`);
  }
  frames.sort((a, b) => a - b);
  const pattern = spec.filePattern ?? DEFAULT_FILE_PATTERN;
  if (pattern.includes('/') || pattern.includes('\\') || pattern.startsWith('.')) {
    throw new RangeError(`file pattern "${pattern}" must be a plain file name inside the output folder`);
  }
  const threads = spec.threads ?? 0;
  if (!Number.isSafeInteger(threads) || threads < 0 || threads > 1024) throw new RangeError(`threads must be 0..1024, got ${threads}`);

  const resolve = spec.resolvePaths ?? true;
  const outputPattern = resolve ? path.join(path.resolve(spec.outputDir), pattern) : path.posix.join(spec.outputDir, pattern);
  const overrides: Record<string, unknown> = { ...spec.overrides };
  if (spec.scene) overrides.scene = spec.scene;

  const args = ['-b', resolve ? path.resolve(spec.blendFile) : spec.blendFile, '-noaudio', '--python-exit-code', '1'];
  if (spec.enableAutoexec) args.push('--enable-autoexec');
  if (spec.scene) args.push('--scene', spec.scene);
  args.push('-o', outputPattern);
  if (spec.format) args.push('-F', CLI_FORMAT_NAMES[spec.format] ?? spec.format);
  args.push('-x', '1');
  args.push('--python', spec.setupScript ?? RENDER_SETUP_PY);
  args.push('-t', String(threads));

  const range = frameRangeOf(frames);
  if (range && frames.length > 1) {
    // -s/-e/-j change the scene's range and -a renders it; these must follow --scene.
    args.push('-s', String(range.start), '-e', String(range.end), '-j', String(range.step), '-a');
  } else {
    args.push('-f', frames.join(','));
  }
  args.push('--', JSON.stringify(overrides));

  const command: BlenderCommand = { program: spec.blender ?? 'blender', args, outputPattern };
  if (spec.format) {
    const ext = extensionFor(spec.format);
    command.expectedOutputs = frames.map((f) => frameOutputPath(outputPattern, f) + ext);
  }
  return command;
}

/**
 * The path Blender writes for `frame` (without extension): the last run of '#' becomes the
 * zero-padded frame number; without '#', Blender appends the frame padded to 4 digits.
 */
export function frameOutputPath(outputPattern: string, frame: number): string {
  const match = /#+(?!.*#)/.exec(outputPattern);
  if (!match) return outputPattern + String(frame).padStart(4, '0');
  return outputPattern.slice(0, match.index) + String(frame).padStart(match[0].length, '0') + outputPattern.slice(match.index + match[0].length);
}
