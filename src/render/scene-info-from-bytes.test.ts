// The settings `drover render` sends with a job, read from the .blend's bytes, must be exactly what
// Blender says (scene-info.ts): the job is created with them before Blender has answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProcess } from '../process/run-process.js';
import { BLENDER, makeScene, type SceneOptions } from '../../test/helpers/scenes.js';
import { readSceneInfo, type SceneSettings } from './scene-info.js';
import { readSceneSettingsFromBytes } from './scene-info-from-bytes.js';

const pick = (s: SceneSettings) => ({
  name: s.name,
  frameStart: s.frameStart,
  frameEnd: s.frameEnd,
  frameStep: s.frameStep,
  fps: s.fps,
  resolution: s.resolution,
  fileFormat: s.fileFormat,
  engine: s.engine,
  samples: s.samples,
});

const CASES: [string, SceneOptions][] = [
  ['Cycles, PNG (the benchmark scene)', { frames: [1, 40], resolution: [320, 180], samples: 16 }],
  ['zstd-compressed, two scenes, EEVEE', { frames: [3, 9], fps: 30, engine: 'BLENDER_EEVEE', compress: true, extraScenes: ['Backup'] }],
  ['a movie format', { frames: [1, 2], fileFormat: 'FFMPEG' }],
];

for (const [name, options] of CASES) {
  test(`settings from the bytes are Blender's: ${name}`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-scene-bytes-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const blend = await makeScene(dir, options);
    const info = await readSceneInfo(blend);
    assert.deepEqual(await readSceneSettingsFromBytes(blend), pick(info.scene));
    for (const scene of info.scenes) assert.deepEqual(await readSceneSettingsFromBytes(blend, scene.name), pick(scene), scene.name);
  });
}

test("NTSC film rate and Cycles samples the file does not store: Blender's exact fps and its default samples", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-scene-bytes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blend = path.join(dir, 'ntsc.blend');
  // Cycles chosen but its samples never set: the file keeps no value, the add-on's default applies.
  const script = [
    'import bpy',
    's = bpy.context.scene',
    "s.render.engine = 'CYCLES'",
    's.render.fps = 24',
    's.render.fps_base = 1.001',
    `bpy.ops.wm.save_as_mainfile(filepath=${JSON.stringify(blend)})`,
  ].join('\n');
  const made = await runProcess(BLENDER, ['-b', '--factory-startup', '-noaudio', '--python-exit-code', '1', '--python-expr', script], { timeoutMs: 120_000 });
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const info = await readSceneInfo(blend);
  const fromBytes = await readSceneSettingsFromBytes(blend);
  assert.deepEqual(fromBytes, pick(info.scene));
  assert.equal(fromBytes?.fps, 24 / info.scene.fpsRational.den);
  assert.ok(fromBytes?.samples, 'Blender reports a sample count');
});

test('what the bytes cannot say surely is left to Blender (null)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-scene-bytes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blend = await makeScene(dir, {});
  assert.equal(await readSceneSettingsFromBytes(blend, 'NoSuchScene'), null);
  const text = path.join(dir, 'notes.blend');
  await writeFile(text, 'not a blend file at all');
  assert.equal(await readSceneSettingsFromBytes(text), null);
  const cut = path.join(dir, 'cut.blend');
  await writeFile(cut, 'BLENDER-v304' + 'x'.repeat(40));
  assert.equal(await readSceneSettingsFromBytes(cut), null);
  assert.equal(await readSceneSettingsFromBytes(path.join(dir, 'absent.blend')), null);
});
