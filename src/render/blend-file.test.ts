import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { makeScene } from '../../test/helpers/scenes.js';
import { checkBlendFile, isBlendFile, parseBlendHeader } from './blend-file.js';
import { readSceneInfo } from './scene-info.js';

test('recognises plain, gzip and zstd .blend files and refuses others', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-blendfile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const plain = await makeScene(dir, { name: 'plain' });
  // Blender 3.x "Compress" writes zstd (28 b5 2f fd), not gzip.
  const zstd = await makeScene(dir, { name: 'zstd', compress: true });
  assert.deepEqual([...(await readFile(zstd)).subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  // Blender < 3.0 wrote gzip; Blender 3.4 still reads it (checked below with scene-info).
  const gzip = path.join(dir, 'gzip.blend');
  await writeFile(gzip, zlib.gzipSync(await readFile(plain)));
  const text = path.join(dir, 'notes.blend');
  await writeFile(text, 'BLENDER is not enough: this is a text file\n');
  const gzText = path.join(dir, 'text.gz');
  await writeFile(gzText, zlib.gzipSync(Buffer.from('hello, not a blend')));
  const fakeZstd = path.join(dir, 'fake.zst');
  await writeFile(fakeZstd, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8]));
  const empty = path.join(dir, 'empty.blend');
  await writeFile(empty, '');

  assert.deepEqual(await checkBlendFile(plain), { isBlend: true, compression: 'none', verified: true, version: '3.04', pointerSize: 8 });
  assert.deepEqual(await checkBlendFile(gzip), { isBlend: true, compression: 'gzip', verified: true, version: '3.04', pointerSize: 8 });
  assert.deepEqual(await checkBlendFile(zstd), { isBlend: true, compression: 'zstd', verified: true, version: '3.04', pointerSize: 8 });
  // Without the zstd program the layout (magic + Blender's seek table) is all we can check.
  const unverified = await checkBlendFile(zstd, { zstdProgram: path.join(dir, 'no-zstd-here') });
  assert.equal(unverified.isBlend, true);
  assert.equal(unverified.verified, false);
  assert.match(unverified.reason ?? '', /zstd program is not installed/);

  for (const file of [text, gzText, fakeZstd, empty]) assert.equal(await isBlendFile(file), false, file);
  assert.equal((await checkBlendFile(fakeZstd)).compression, 'zstd');
  assert.equal(await isBlendFile(plain), true);
  assert.equal(parseBlendHeader(Buffer.from('BLENDER-v304'))?.pointerSize, 8);
  assert.equal(parseBlendHeader(Buffer.from('BLENDER?v304')), undefined);

  // Blender itself opens the gzip and zstd files: the header check did not lie.
  for (const file of [gzip, zstd]) assert.equal((await readSceneInfo(file)).scene.name, 'Main');
});
