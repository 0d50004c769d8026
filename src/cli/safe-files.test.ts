import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NAME_MAX, UnsafeDestinationError, fittingName, realDirectory, writeSafely } from './safe-files.js';

test('names longer than the file system takes are shortened, keeping their start and extension, distinct', () => {
  assert.equal(fittingName('short.png'), 'short.png');
  const a = fittingName(`${'a'.repeat(300)}-1.exr`);
  const b = fittingName(`${'a'.repeat(300)}-2.exr`);
  assert.ok(Buffer.byteLength(a) <= NAME_MAX && a.startsWith('aaaa') && a.endsWith('.exr'));
  assert.notEqual(a, b);
  // Multi-byte characters are never cut in half.
  const c = fittingName(`${'é'.repeat(200)}.txt`);
  assert.ok(Buffer.byteLength(c) <= NAME_MAX);
  assert.ok(!c.includes('\ufffd'));
});

test('writes go through neither symbolic links nor half-written files', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'drover-safe-'));
  const outside = await mkdtemp(join(tmpdir(), 'drover-outside-'));
  t.after(() => Promise.all([rm(root, { recursive: true, force: true }), rm(outside, { recursive: true, force: true })]));
  await symlink(outside, join(root, 'linked'));
  await assert.rejects(realDirectory(root, ['linked', 'deeper']), UnsafeDestinationError);
  await writeFile(join(outside, 'target'), 'mine');
  await symlink(join(outside, 'target'), join(root, 'file.txt'));
  await assert.rejects(writeSafely(root, 'file.txt', 'theirs'), UnsafeDestinationError);
  assert.equal(await readFile(join(outside, 'target'), 'utf8'), 'mine');
  // A wrong hash leaves nothing behind, not even the temporary file.
  await assert.rejects(writeSafely(root, 'checked.txt', 'bytes', '0'.repeat(64)), /arrived corrupted/);
  assert.deepEqual((await readdir(root)).sort(), ['file.txt', 'linked']);
  await writeSafely(root, `${'n'.repeat(251)}.txt`, 'fits');
  assert.equal(await readFile(join(root, `${'n'.repeat(251)}.txt`), 'utf8'), 'fits');
});
