import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeScene } from '../../test/helpers/scenes.js';
import { isAbsoluteStoredPath, readSceneInfo, SceneInfoError } from './scene-info.js';

test('reads render settings and external files, flagging those outside the project', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-sceneinfo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const project = path.join(dir, 'project');
  const outside = path.join(dir, 'elsewhere', 'floor.png');
  const blend = await makeScene(project, {
    frames: [3, 12],
    fps: 30,
    resolution: [96, 72],
    samples: 6,
    texture: true,
    externalTexture: outside,
    extraScenes: ['Backup'],
  });

  const info = await readSceneInfo(blend);
  assert.equal(info.blenderVersion, '3.4.1');
  assert.equal(info.activeScene, 'Main');
  assert.deepEqual(new Set(info.scenes.map((s) => s.name)), new Set(['Main', 'Backup']));
  const s = info.scene;
  assert.equal(s.name, 'Main');
  assert.deepEqual([s.frameStart, s.frameEnd, s.frameStep], [3, 12, 1]);
  assert.equal(s.fps, 30);
  assert.deepEqual(s.resolution, { x: 96, y: 72, percentage: 100 });
  assert.deepEqual(s.outputSize, { width: 96, height: 72 });
  assert.equal(s.fileFormat, 'PNG');
  assert.equal(s.engine, 'CYCLES');
  assert.equal(s.samples, 6);
  assert.equal(s.denoising, false);
  assert.equal(s.camera, 'Camera');

  const images = info.externalFiles.filter((f) => f.kind === 'image');
  assert.equal(images.length, 2);
  const checker = images.find((f) => f.path === '//textures/checker.png');
  assert.ok(checker, 'the relative texture is listed as stored');
  assert.equal(checker.absolutePath, path.join(project, 'textures', 'checker.png'));
  assert.equal(checker.exists, true);
  assert.equal(checker.outsideProject, false);
  const floor = images.find((f) => f.path === outside);
  assert.ok(floor, 'the absolute texture is listed');
  assert.equal(floor.outsideProject, true);
  assert.equal(floor.outsideReason, 'absolute-path');
  assert.equal(info.warnings.length, 1);
  assert.match(info.warnings[0]!, /absolute path/);

  // With a project root the .blend's folder is not part of, even //relative files are outside.
  const narrower = await readSceneInfo(blend, { projectRoot: path.join(project, 'textures', 'none'), scene: 'Backup' });
  assert.equal(narrower.scene.name, 'Backup');
  assert.equal(narrower.scene.resolution.x, 1920, 'an untouched scene keeps its own settings');
  assert.equal(narrower.externalFiles.find((f) => f.path === '//textures/checker.png')?.outsideReason, 'outside-project');

  await assert.rejects(readSceneInfo(blend, { scene: 'Nope' }), /scene "Nope" is not in .*Main/);
  const text = path.join(dir, 'notes.blend');
  await writeFile(text, 'not a blend');
  await assert.rejects(readSceneInfo(text), (err: unknown) => err instanceof SceneInfoError && /File format is not supported/.test(err.message));
});

test('absolute stored paths in any OS style', () => {
  for (const p of ['/home/a/tex.png', 'C:\\tex.png', 'd:/tex.png', '\\\\server\\share\\tex.png']) assert.equal(isAbsoluteStoredPath(p), true, p);
  for (const p of ['//tex.png', '//../tex.png', 'tex.png']) assert.equal(isAbsoluteStoredPath(p), false, p);
});

test('with a cache, Blender is asked once per content of the .blend and per Blender build', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-sceneinfo-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blend = await makeScene(path.join(dir, 'project'), { frames: [1, 8], resolution: [64, 48], samples: 2, texture: true });
  // A Blender that counts its starts.
  const counter = path.join(dir, 'starts');
  const blender = path.join(dir, 'blender');
  await writeFile(blender, `#!/bin/sh\necho x >> ${counter}\nexec blender "$@"\n`, { mode: 0o755 });
  const starts = async () => (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  const cache = { dir: path.join(dir, 'cache'), blendSha256: 'a'.repeat(64) };

  const first = await readSceneInfo(blend, { blender, cache });
  assert.equal(await starts(), 1);
  const again = await readSceneInfo(blend, { blender, cache });
  assert.equal(await starts(), 1, 'the same content again: answered from the cache');
  assert.deepEqual(again, first);
  // Which files exist is checked anew: the cached answer only says what the .blend refers to.
  await rm(path.join(dir, 'project', 'textures'), { recursive: true, force: true });
  const withoutTexture = await readSceneInfo(blend, { blender, cache });
  assert.equal(await starts(), 1);
  assert.notDeepEqual(withoutTexture.warnings, first.warnings);
  assert.deepEqual(withoutTexture.warnings, (await readSceneInfo(blend, { blender })).warnings, 'the same as Blender read afresh');

  await readSceneInfo(blend, { blender, cache: { ...cache, blendSha256: 'b'.repeat(64) } });
  assert.equal(await starts(), 3, 'changed content (and the uncached read above): Blender again');
  await utimes(blender, new Date(), new Date(Date.now() + 5000));
  await readSceneInfo(blend, { blender, cache });
  assert.equal(await starts(), 4, 'another Blender build: asked again');
  // A damaged entry is not trusted.
  for (const name of await readdir(cache.dir)) await writeFile(path.join(cache.dir, name), '{"scen');
  assert.deepEqual((await readSceneInfo(blend, { blender, cache })).scene, first.scene);
  assert.equal(await starts(), 5);
});
