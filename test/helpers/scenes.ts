// Generate tiny, deterministic Blender scenes for tests (see test/fixtures/scenes/make_scene.py).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../../src/process/run-process.js';

export const MAKE_SCENE_PY = fileURLToPath(new URL('../fixtures/scenes/make_scene.py', import.meta.url));
export const BLENDER = process.env.DROVER_BLENDER ?? 'blender';

export interface SceneOptions {
  /** File name without .blend. Default "scene". */
  name?: string;
  /** Name of the (active) scene inside the file. Default "Main". */
  sceneName?: string;
  frames?: [start: number, end: number];
  fps?: number;
  resolution?: [width: number, height: number];
  samples?: number;
  engine?: 'CYCLES' | 'BLENDER_WORKBENCH' | 'BLENDER_EEVEE';
  /** Use //textures/checker.png, written beside the .blend (relative path). */
  texture?: boolean;
  /** Absolute path of a texture written OUTSIDE the project and linked by absolute path. */
  externalTexture?: string;
  /** More (empty) scenes in the same file. */
  extraScenes?: string[];
  /** Save with Blender's compression (zstd in Blender 3.x). */
  compress?: boolean;
  /** Output file format (Blender enum, e.g. 'PNG', 'OPEN_EXR', 'FFMPEG'). Default 'PNG'. */
  fileFormat?: string;
  /** Turn Cycles denoising on (OpenImageDenoise), as Blender's default scene has it. Default false. */
  denoising?: boolean;
}

/** Write `<dir>/<name>.blend` (and its textures) and return the .blend's absolute path. */
export async function makeScene(dir: string, options: SceneOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const out = path.resolve(dir, `${options.name ?? 'scene'}.blend`);
  const json = JSON.stringify({
    out,
    name: options.sceneName ?? 'Main',
    frames: options.frames ?? [1, 10],
    fps: options.fps ?? 24,
    resolution: options.resolution ?? [64, 48],
    samples: options.samples ?? 4,
    engine: options.engine ?? 'CYCLES',
    texture: options.texture ?? false,
    external_texture: options.externalTexture,
    extra_scenes: options.extraScenes ?? [],
    compress: options.compress ?? false,
    file_format: options.fileFormat ?? 'PNG',
    denoising: options.denoising ?? false,
  });
  const args = ['-b', '--factory-startup', '-noaudio', '--python-exit-code', '1', '--python', MAKE_SCENE_PY, '--', json];
  const result = await runProcess(BLENDER, args, { timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new Error(`make_scene.py failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return out;
}
