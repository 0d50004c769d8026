// Read a .blend file's render settings and external files by asking Blender itself
// (blender/scene_info.py), so the CLI can show the frame range and warn about files that
// will not travel with the project before anything is uploaded.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../process/run-process.js';
import { cacheSceneInfo, readCachedSceneInfo, sceneInfoKey } from './scene-info-cache.js';

export const SCENE_INFO_PY = fileURLToPath(new URL('./blender/scene_info.py', import.meta.url));

export interface SceneSettings {
  name: string;
  frameStart: number;
  frameEnd: number;
  frameStep: number;
  /** Frames per second, fps / fps_base (e.g. 23.976…). */
  fps: number;
  /** Blender's exact form: fps = num / den (den is fps_base, e.g. 24000/1001 is 24 / 1.001). */
  fpsRational: { num: number; den: number };
  resolution: { x: number; y: number; percentage: number };
  /** The size of rendered frames: resolution scaled by percentage, as Blender rounds it. */
  outputSize: { width: number; height: number };
  /** Blender's image format enum: PNG, JPEG, OPEN_EXR, OPEN_EXR_MULTILAYER, TIFF, FFMPEG, … */
  fileFormat: string;
  colorMode: string;
  colorDepth: string;
  /** CYCLES, BLENDER_EEVEE, BLENDER_WORKBENCH, … */
  engine: string;
  /** Render samples for Cycles and Eevee, null for other engines. */
  samples: number | null;
  /** Cycles denoising (null for other engines). */
  denoising: boolean | null;
  camera: string | null;
  outputPath: string;
}

export type ExternalFileKind = 'library' | 'image' | 'movieclip' | 'sound' | 'font' | 'cache' | 'volume' | 'text' | 'other';

export interface ExternalFile {
  kind: ExternalFileKind;
  /** Datablock name (e.g. the image's name), "" when Blender only reported a path. */
  name: string;
  /** The path as stored in the file: "//textures/a.png" (relative to the .blend) or absolute. */
  path: string;
  /** Where Blender resolves it on this machine. */
  absolutePath: string;
  /** Packed into the .blend: travels with it, nothing to warn about. */
  packed: boolean;
  exists: boolean;
  /** Path of the library the datablock is linked from, if any. */
  library: string | null;
  /** The file will not be found by an agent that only gets the project. */
  outsideProject: boolean;
  /** Why it is outside: stored as an absolute path, or relative but leading out of the project. */
  outsideReason?: 'absolute-path' | 'outside-project';
}

export interface SceneInfo {
  blenderVersion: string;
  blendFile: string;
  /** The scene Blender renders without --scene. */
  activeScene: string;
  /** The requested scene (options.scene) or the active one. */
  scene: SceneSettings;
  scenes: SceneSettings[];
  externalFiles: ExternalFile[];
  /** Human-readable warnings for the CLI: outside-project and missing files. */
  warnings: string[];
}

export class SceneInfoError extends Error {
  override name = 'SceneInfoError';
  constructor(message: string, readonly output?: string) {
    super(message);
  }
}

export interface SceneInfoOptions {
  /** Root of the project the .blend belongs to; default: the .blend's folder. */
  projectRoot?: string;
  /** Scene to describe as `scene`; default: the active scene. */
  scene?: string;
  blender?: string;
  timeoutMs?: number;
  /** Reuse (and keep) Blender's answer for this content of the .blend, in this cache directory. */
  cache?: { dir: string; blendSha256: string };
  /** Run Blender with this nice value: a read beside other work (see RunOptions.niceness). */
  niceness?: number;
}

export async function readSceneInfo(blendPath: string, options: SceneInfoOptions = {}): Promise<SceneInfo> {
  const blend = path.resolve(blendPath);
  const projectRoot = path.resolve(options.projectRoot ?? path.dirname(blend));
  const blender = options.blender ?? 'blender';
  const { cache } = options;
  const key = cache ? sceneInfoKey(blend, cache.blendSha256, blender, SCENE_INFO_PY) : null;
  const cached = cache && key ? parseRaw(await readCachedSceneInfo(cache.dir, key)) : null;
  if (cached) return toSceneInfo(cached, projectRoot, options.scene);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-scene-info-'));
  try {
    const out = path.join(dir, 'info.json');
    // No --factory-startup: the user's file settings decide what renders. -noaudio: agents
    // often have no sound device and Blender would otherwise try to open one.
    const args = ['-b', blend, '-noaudio', '--python-exit-code', '1', '--python', SCENE_INFO_PY, '--', out];
    const result = await runProcess(blender, args, { timeoutMs: options.timeoutMs ?? 120_000, ...(options.niceness !== undefined ? { niceness: options.niceness } : {}) });
    let raw: string;
    try {
      raw = await readFile(out, 'utf8');
    } catch {
      const output = `${result.stdout}\n${result.stderr}`;
      const errors = output.split('\n').filter((l) => /^(Error|Traceback|\w+Error)\b/.test(l.trim()));
      const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? result.signal}`;
      throw new SceneInfoError(
        `Blender could not read ${blend} (${why})${errors.length ? `: ${errors.join(' | ')}` : ''}`,
        output.slice(-8000),
      );
    }
    const info = toSceneInfo(JSON.parse(raw) as RawInfo, projectRoot, options.scene);
    if (cache && key) await cacheSceneInfo(cache.dir, key, raw);
    return info;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RawScene {
  name: string;
  frame_start: number;
  frame_end: number;
  frame_step: number;
  fps: number;
  fps_base: number;
  resolution_x: number;
  resolution_y: number;
  resolution_percentage: number;
  file_format: string;
  color_mode: string;
  color_depth: string;
  engine: string;
  samples: number | null;
  denoising: boolean | null;
  camera: string | null;
  output_path: string;
}
interface RawFile {
  kind: ExternalFileKind;
  name: string;
  path: string;
  absolute_path: string;
  packed: boolean;
  exists: boolean;
  library: string | null;
}
interface RawInfo {
  blender_version: string;
  blend_file: string;
  active_scene: string;
  scenes: RawScene[];
  external_files: RawFile[];
}

/** A cached answer, or null if there is none or it cannot be read (then Blender is asked again). */
function parseRaw(text: string | null): RawInfo | null {
  if (text === null) return null;
  try {
    const raw = JSON.parse(text) as RawInfo;
    return Array.isArray(raw.scenes) && Array.isArray(raw.external_files) ? raw : null;
  } catch {
    return null;
  }
}

function toSceneInfo(raw: RawInfo, projectRoot: string, sceneName: string | undefined): SceneInfo {
  const scenes = raw.scenes.map(toSceneSettings);
  const wanted = sceneName ?? raw.active_scene;
  const scene = scenes.find((s) => s.name === wanted);
  if (!scene) {
    throw new SceneInfoError(`scene "${wanted}" is not in ${raw.blend_file}; its scenes are: ${scenes.map((s) => s.name).join(', ')}`);
  }
  const externalFiles = raw.external_files.map((f) => toExternalFile(f, projectRoot));
  const warnings: string[] = [];
  for (const f of externalFiles) {
    const what = `${f.kind}${f.name ? ` "${f.name}"` : ''} (${f.path})`;
    if (f.outsideReason === 'absolute-path') warnings.push(`${what} uses an absolute path: agents will not find it; make it relative (File > External Data > Make Paths Relative) and put it in the project`);
    else if (f.outsideReason === 'outside-project') warnings.push(`${what} is outside the project folder ${projectRoot}: agents will not get it`);
    if (!f.packed && !f.exists) warnings.push(`${what} is missing on this machine`);
  }
  return {
    blenderVersion: raw.blender_version,
    blendFile: raw.blend_file,
    activeScene: raw.active_scene,
    scene,
    scenes,
    externalFiles,
    warnings,
  };
}

function toSceneSettings(s: RawScene): SceneSettings {
  return {
    name: s.name,
    frameStart: s.frame_start,
    frameEnd: s.frame_end,
    frameStep: s.frame_step,
    fps: s.fps / s.fps_base,
    fpsRational: { num: s.fps, den: s.fps_base },
    resolution: { x: s.resolution_x, y: s.resolution_y, percentage: s.resolution_percentage },
    // Blender: (int)(resolution * percentage / 100), see BKE_render_resolution.
    outputSize: {
      width: Math.trunc((s.resolution_x * s.resolution_percentage) / 100),
      height: Math.trunc((s.resolution_y * s.resolution_percentage) / 100),
    },
    fileFormat: s.file_format,
    colorMode: s.color_mode,
    colorDepth: s.color_depth,
    engine: s.engine,
    samples: s.samples,
    denoising: s.denoising,
    camera: s.camera,
    outputPath: s.output_path,
  };
}

/** An absolute stored path (POSIX, Windows drive or UNC), as opposed to Blender's "//relative". */
export function isAbsoluteStoredPath(stored: string): boolean {
  return (stored.startsWith('/') && !stored.startsWith('//')) || /^[A-Za-z]:[\\/]/.test(stored) || stored.startsWith('\\\\');
}

function toExternalFile(f: RawFile, projectRoot: string): ExternalFile {
  const file: ExternalFile = {
    kind: f.kind,
    name: f.name,
    path: f.path,
    absolutePath: f.absolute_path,
    packed: f.packed,
    // Checked here, not taken from Blender's answer: that answer may come from the cache.
    exists: f.packed ? f.exists : Boolean(f.absolute_path) && existsSync(f.absolute_path),
    library: f.library,
    outsideProject: false,
  };
  if (f.packed) return file;
  if (isAbsoluteStoredPath(f.path)) return { ...file, outsideProject: true, outsideReason: 'absolute-path' };
  const relative = path.relative(projectRoot, f.absolute_path);
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    return { ...file, outsideProject: true, outsideReason: 'outside-project' };
  }
  return file;
}
