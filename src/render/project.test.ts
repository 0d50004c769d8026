import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { makeScene } from '../../test/helpers/scenes.js';
import { discoverProject, hashProjectFiles, openProjectFile, ProjectError, type Project } from './project.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function writeZip(file: string, entries: Array<{ name: string; data: Buffer | string; mode?: number }>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.data), e.name, e.mode === undefined ? {} : { mode: e.mode });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
  return file;
}

/** yazl refuses unsafe names (rightly), so the evil zips are written with Python's zipfile. */
function writeZipWithPython(file: string, names: string[]): string {
  const script = `import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for n in sys.argv[2:]:\n        z.writestr(zipfile.ZipInfo(n), 'x')\n`;
  execFileSync('python3', ['-c', script, file, ...names]);
  return file;
}

async function collect(project: Pick<Project, 'files'>) {
  const out = [];
  for await (const f of hashProjectFiles(project)) out.push(f);
  return out;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-project-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // One real scene with a relative texture; other files are cheap stand-ins.
  const folder = path.join(dir, 'shot');
  const blend = await makeScene(folder, { name: 'shot', texture: true });
  await writeFile(path.join(folder, 'shot.blend1'), 'backup');
  await mkdir(path.join(folder, '.git'));
  await writeFile(path.join(folder, '.git', 'HEAD'), 'ref');
  await writeFile(path.join(dir, 'secret.txt'), 'outside');
  await symlink(path.join(dir, 'secret.txt'), path.join(folder, 'leak.txt'));
  await symlink(path.join(folder, 'textures', 'checker.png'), path.join(folder, 'alias.png'));
  return { dir, folder, blend };
}

test('a .blend file, a folder and a zip are listed, hashed and their .blend chosen', async (t) => {
  const { dir, folder, blend } = await setup(t);

  const single = await discoverProject(blend);
  assert.equal(single.kind, 'blend');
  assert.equal(single.blend, 'shot.blend');
  assert.deepEqual(single.files.map((f) => f.path), ['shot.blend']);

  const project = await discoverProject(folder);
  assert.equal(project.kind, 'folder');
  assert.equal(project.blend, 'shot.blend');
  assert.deepEqual(project.files.map((f) => f.path), ['alias.png', 'shot.blend', 'textures/checker.png']);
  assert.deepEqual(
    project.skipped.map((s) => s.path).sort(),
    ['.git/', 'leak.txt', 'shot.blend1'],
  );
  assert.match(project.skipped.find((s) => s.path === 'leak.txt')!.reason, /outside the project/);

  const hashed = await collect(project);
  for (const f of hashed) {
    assert.ok(f.source.kind === 'fs');
    const bytes = await readFile(f.source.absPath);
    assert.equal(f.sha256, sha256(bytes));
    assert.equal(f.size, bytes.length);
  }

  // The same files zipped (with a folder entry and Windows-style separators) hash the same.
  const zipPath = await writeZip(path.join(dir, 'shot.zip'), [
    { name: 'shot.blend', data: await readFile(blend) },
    { name: 'textures\\checker.png', data: await readFile(path.join(folder, 'textures', 'checker.png')) },
    { name: '__MACOSX/._shot.blend', data: 'junk' },
  ]);
  const zipped = await discoverProject(zipPath);
  assert.equal(zipped.kind, 'zip');
  assert.equal(zipped.blend, 'shot.blend');
  assert.deepEqual(zipped.files.map((f) => f.path), ['shot.blend', 'textures/checker.png']);
  const zipHashes = await collect(zipped);
  assert.deepEqual(
    zipHashes.map((f) => [f.path, f.sha256]).sort(),
    hashed.filter((f) => f.path !== 'alias.png').map((f) => [f.path, f.sha256]).sort(),
  );
  const stream = await openProjectFile(zipped.files[1]!);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), await readFile(path.join(folder, 'textures', 'checker.png')));
});

test('several .blend files need --blend; none is an error', async (t) => {
  const { dir, folder } = await setup(t);
  await mkdir(path.join(folder, 'alt'));
  await writeFile(path.join(folder, 'alt', 'other.blend'), 'a second candidate');
  await assert.rejects(
    discoverProject(folder),
    (err: unknown) => err instanceof ProjectError && /2 \.blend files; choose one with --blend:\n {2}alt\/other\.blend\n {2}shot\.blend/.test(err.message),
  );
  assert.equal((await discoverProject(folder, { blend: 'alt/other.blend' })).blend, 'alt/other.blend');
  assert.equal((await discoverProject(folder, { blend: './alt\\other.blend' })).blend, 'alt/other.blend');
  assert.equal((await discoverProject(folder, { blend: path.join(folder, 'shot.blend') })).blend, 'shot.blend');
  assert.equal((await discoverProject(folder, { blend: 'other.blend' })).blend, 'alt/other.blend', 'a unique file name is enough');
  await assert.rejects(discoverProject(folder, { blend: 'missing.blend' }), /--blend missing.blend is not a \.blend file of the project; its \.blend files are:\n {2}alt\/other.blend/);

  const empty = path.join(dir, 'empty');
  await mkdir(empty);
  await writeFile(path.join(empty, 'readme.txt'), 'no blend here');
  await assert.rejects(discoverProject(empty), /no \.blend file in/);
  await assert.rejects(discoverProject(path.join(dir, 'nope')), /does not exist/);
  await assert.rejects(discoverProject(path.join(empty, 'readme.txt')), /not a \.blend file, a folder or a \.zip/);
});

test('unsafe zips are refused with a clear message', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drover-zips-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const reject = (zip: string, message: RegExp, limits = {}) =>
    assert.rejects(discoverProject(zip, { zipLimits: limits }), (err: unknown) => err instanceof ProjectError && message.test(err.message));

  await reject(writeZipWithPython(path.join(dir, 'dotdot.zip'), ['scene.blend', '../evil.sh']), /entry "\.\.\/evil\.sh": paths containing "\.\." could write outside/);
  await reject(writeZipWithPython(path.join(dir, 'nested.zip'), ['scene.blend', 'a/../../evil']), /paths containing "\.\."/);
  await reject(writeZipWithPython(path.join(dir, 'abs.zip'), ['/etc/cron.d/evil']), /entry "\/etc\/cron.d\/evil": absolute paths are not allowed/);
  await reject(writeZipWithPython(path.join(dir, 'drive.zip'), ['C:/evil.bat']), /absolute paths are not allowed/);
  await reject(
    await writeZip(path.join(dir, 'link.zip'), [
      { name: 'scene.blend', data: 'x' },
      { name: 'passwd', data: '/etc/passwd', mode: 0o120777 },
    ]),
    /entry "passwd" is a symbolic link/,
  );
  // 64 MiB of zeros deflate to ~64 KiB: a ratio of ~1000.
  const bomb = await writeZip(path.join(dir, 'bomb.zip'), [{ name: 'scene.blend', data: Buffer.alloc(64 * 1024 ** 2) }]);
  await reject(bomb, /entry "scene\.blend" expands \d+x .* more than the 500x allowed/);
  await reject(bomb, /expands to more than 1 MiB \(a zip bomb\?\)/, { maxTotalBytes: 1024 ** 2, maxRatio: 10_000 });
  assert.equal((await discoverProject(bomb, { zipLimits: { maxRatio: 10_000 } })).blend, 'scene.blend', 'limits are configurable');
  await reject(await writeZip(path.join(dir, 'many.zip'), [{ name: 'a.blend', data: 'a' }, { name: 'b', data: 'b' }]), /more than 1 entries/, { maxEntries: 1 });
  await writeFile(path.join(dir, 'broken.zip'), 'PK\u0003\u0004 not really');
  await reject(path.join(dir, 'broken.zip'), /is not a readable zip/);
});
