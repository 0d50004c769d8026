// The render settings a render job needs from its .blend (frame range, fps, size, format, samples),
// read from the file's bytes (src/core/blend-scene.ts, the reader the web app's render form uses)
// instead of by starting Blender: a Blender start costs about a second, which `drover render`
// would otherwise spend before the job exists. Blender still reads the file for what only it can
// tell (the external files behind the warnings), beside the upload (scene-info.ts).
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { decompress } from 'fzstd';
import { blendPacking, readBlendScenes } from '../core/blend-scene.js';
import type { SceneSettings } from './scene-info.js';

/** What the CLI sends with a render job, named as in SceneSettings (Blender's answer). */
export type SceneSettingsFromBytes = Pick<SceneSettings, 'name' | 'frameStart' | 'frameEnd' | 'frameStep' | 'fps' | 'resolution' | 'fileFormat' | 'engine' | 'samples'>;

/** Bigger files go to Blender first: the whole (decompressed) file would be held in memory. */
const MAX_READ_BYTES = 512 * 1024 ** 2;

/**
 * Cycles' render samples where the file stores none: the add-on's default then applies, 4096
 * since Blender 3.0 and 128 before (intern/cycles/blender/addon/properties.py), which is what
 * Blender reports for such a file.
 */
function cyclesDefaultSamples(version: string): number {
  return Number(version) >= 3 ? 4096 : 128;
}

/**
 * The scene's settings (`sceneName`, or the active scene), or null when the bytes cannot say them
 * surely: not a .blend this reader knows, too big, a scene that is not there, a format code it
 * cannot name. Null sends the caller to Blender, which answers or explains.
 */
export async function readSceneSettingsFromBytes(blendPath: string, sceneName?: string): Promise<SceneSettingsFromBytes | null> {
  try {
    if ((await stat(blendPath)).size > MAX_READ_BYTES) return null;
    const raw = new Uint8Array(await readFile(blendPath));
    const packing = blendPacking(raw);
    if (packing === null) return null;
    const bytes = packing === 'plain' ? raw : packing === 'gzip' ? new Uint8Array(gunzipSync(raw)) : decompress(raw);
    const contents = readBlendScenes(bytes);
    const scene = sceneName === undefined ? contents.active : contents.scenes.find((s) => s.name === sceneName);
    // IMTYPE_<n>: a format code the reader cannot name (a newer Blender); Blender names it.
    if (!scene || scene.fileFormat.startsWith('IMTYPE_')) return null;
    const samples = scene.samples ?? (scene.engine === 'CYCLES' ? cyclesDefaultSamples(contents.version) : null);
    return {
      name: scene.name,
      frameStart: scene.frameStart,
      frameEnd: scene.frameEnd,
      frameStep: scene.frameStep,
      // Exactly as scene-info.ts computes it from Blender's fps and fps_base (the preview's rate).
      fps: scene.fpsRational.num / scene.fpsRational.den,
      resolution: scene.resolution,
      fileFormat: scene.fileFormat,
      engine: scene.engine,
      samples,
    };
  } catch {
    // A file this reader cannot take apart (cut short, an unknown layout): Blender is asked instead.
    return null;
  }
}
