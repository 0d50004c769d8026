// Generate tiny, deterministic Blender scenes for tests (see test/fixtures/scenes/make_scene.py).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../../src/process/find-executable.js';
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

/**
 * Write `<dir>/<name>.blend` (and its textures) and return the .blend's absolute path.
 *
 * Each distinct scene is made by Blender once per machine and copied from a cache after that
 * (os.tmpdir()/drover-test-scenes, keyed by the settings, make_scene.py's text and the Blender
 * binary): the suite asks for the same few scenes some forty times, and each Blender start costs
 * about a second of CPU. A scene linking a texture outside its folder is always made afresh, as the
 * texture must be written where the test says.
 */
export async function makeScene(dir: string, options: SceneOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const name = options.name ?? 'scene';
  const out = path.resolve(dir, `${name}.blend`);
  const settings = {
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
  };
  if (options.externalTexture) {
    await runMakeScene(out, settings);
    return out;
  }
  const cached = path.join(SCENE_CACHE, await sceneKey(name, settings));
  if (!existsSync(path.join(cached, `${name}.blend`))) {
    await mkdir(SCENE_CACHE, { recursive: true });
    const making = await mkdtemp(path.join(SCENE_CACHE, 'making-'));
    try {
      await runMakeScene(path.join(making, `${name}.blend`), settings);
      // Another test file may have made the same scene meanwhile: either copy is whole.
      await rename(making, cached).catch(() => undefined);
    } finally {
      await rm(making, { recursive: true, force: true });
    }
  }
  await cp(cached, dir, { recursive: true });
  return out;
}

const SCENE_CACHE = path.join(tmpdir(), 'drover-test-scenes');

async function sceneKey(name: string, settings: object): Promise<string> {
  const blender = BLENDER.includes('/') ? BLENDER : (findExecutable(BLENDER) ?? BLENDER);
  const binary = await stat(blender).then((s) => `${blender}:${s.size}:${s.mtimeMs}`, () => blender);
  return createHash('sha256').update(JSON.stringify([name, settings, binary, await readFile(MAKE_SCENE_PY, 'utf8')])).digest('hex').slice(0, 32);
}

async function runMakeScene(out: string, settings: object): Promise<void> {
  const args = ['-b', '--factory-startup', '-noaudio', '--python-exit-code', '1', '--python', MAKE_SCENE_PY, '--', JSON.stringify({ out, ...settings })];
  const result = await runProcess(BLENDER, args, { timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new Error(`make_scene.py failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
}
