// The .blend reader against Blender itself: each scene's settings as read from the bytes must be
// what Blender says (src/render/scene-info.ts runs Blender), for plain and zstd-compressed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decompress } from 'fzstd';
import { makeScene, type SceneOptions } from '../../test/helpers/scenes.js';
import { readSceneInfo } from '../render/scene-info.js';
import { blendPacking, BlendReadError, readBlendScenes } from './blend-scene.js';

const CASES: [string, SceneOptions][] = [
  ['cycles, two scenes, JPEG', { frames: [3, 17], resolution: [640, 360], samples: 7, fileFormat: 'JPEG', extraScenes: ['Backup'] }],
  ['eevee, OpenEXR, 30 fps', { frames: [1, 4], resolution: [1920, 1080], fps: 30, engine: 'BLENDER_EEVEE', fileFormat: 'OPEN_EXR' }],
  ['zstd-compressed, TIFF, workbench', { frames: [5, 9], resolution: [320, 240], engine: 'BLENDER_WORKBENCH', fileFormat: 'TIFF', compress: true }],
  ['a movie format', { frames: [1, 2], fileFormat: 'FFMPEG' }],
];

for (const [name, options] of CASES) {
  test(`.blend settings read from the bytes match Blender's: ${name}`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-blend-scene-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const blend = await makeScene(dir, options);
    const raw = new Uint8Array(await readFile(blend));
    assert.equal(blendPacking(raw), options.compress ? 'zstd' : 'plain');
    const read = readBlendScenes(options.compress ? decompress(raw) : raw);
    const info = await readSceneInfo(blend);
    assert.equal(read.version, '3.04');
    assert.equal(read.active?.name, info.activeScene);
    assert.deepEqual(read.scenes.map((s) => s.name).sort(), info.scenes.map((s) => s.name).sort());
    for (const scene of info.scenes) {
      const mine = read.scenes.find((s) => s.name === scene.name)!;
      assert.deepEqual(
        { ...mine, fps: Math.round(mine.fps * 1000) },
        {
          name: scene.name,
          frameStart: scene.frameStart,
          frameEnd: scene.frameEnd,
          frameStep: scene.frameStep,
          fps: Math.round(scene.fps * 1000),
          fpsRational: scene.fpsRational,
          resolution: scene.resolution,
          fileFormat: scene.fileFormat,
          engine: scene.engine,
          // Blender reports the engine default where the file stores none; the bytes know only what is saved
          samples: mine.samples === null ? null : scene.samples,
        },
        `scene ${scene.name}`,
      );
    }
    assert.equal(read.active?.samples ?? null, options.engine && options.engine !== 'CYCLES' && options.engine !== 'BLENDER_EEVEE' ? null : info.scene.samples);
  });
}

test('what is not a .blend, or is cut short, is refused with a reason', () => {
  assert.equal(blendPacking(new TextEncoder().encode('hello world')), null);
  assert.throws(() => readBlendScenes(new TextEncoder().encode('not a blend file')), BlendReadError);
  const header = new TextEncoder().encode('BLENDER-v304');
  const cut = new Uint8Array(64);
  cut.set(header);
  cut.set(new TextEncoder().encode('SC\0\0'), 12);
  new DataView(cut.buffer).setUint32(16, 10_000, true);
  assert.throws(() => readBlendScenes(cut), /cut short/);
});
