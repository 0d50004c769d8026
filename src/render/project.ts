// What a user hands the CLI as a render PROJECT: a .blend file, a folder, or a .zip of a folder.
// This module lists the project's files (for content-addressed upload), picks the .blend to
// render, refuses unsafe zips, and hashes files as streams so big caches never sit in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { isBlendFile } from './blend-file.js';

export class ProjectError extends Error {
  override name = 'ProjectError';
}

export type ProjectFileSource = { kind: 'fs'; absPath: string } | { kind: 'zip'; zipPath: string; entryName: string };

export interface ProjectFile {
  /** POSIX path relative to the project root, e.g. "textures/checker.png". */
  path: string;
  size: number;
  source: ProjectFileSource;
}

export interface HashedProjectFile extends ProjectFile {
  sha256: string;
}

export interface Project {
  kind: 'blend' | 'folder' | 'zip';
  /** The absolute path the user gave. */
  input: string;
  /** The folder relative paths are relative to (the .blend's folder for a single file; the zip for a zip). */
  root: string;
  /** Sorted by path. */
  files: ProjectFile[];
  /** Relative POSIX path of the .blend to render; one of files. */
  blend: string;
  /** Files left out, and why (backups, VCS folders, symlinks leading out of the project, …). */
  skipped: Array<{ path: string; reason: string }>;
}

export interface ZipLimits {
  /** Total uncompressed bytes of all entries. Default 20 GiB. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of one entry (deflate manages ~1032 at best). Default 500. */
  maxRatio: number;
  /** Entries smaller than this are not ratio-checked (tiny files compress absurdly well). Default 1 MiB. */
  ratioMinBytes: number;
  maxEntries: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxTotalBytes: 20 * 1024 ** 3,
  maxRatio: 500,
  ratioMinBytes: 1024 ** 2,
  maxEntries: 100_000,
};

export interface DiscoverOptions {
  /** The .blend to render, relative to the project root (the CLI's --blend). */
  blend?: string;
  zipLimits?: Partial<ZipLimits>;
}

const IGNORED_DIRS = new Set(['.git', '.svn', '.hg', '__pycache__', '__MACOSX']);
const IGNORED_FILES = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);
/** Blender's backups (scene.blend1, …) and its temporary save file (scene.blend@). */
const BLENDER_BACKUP = /\.blend(\d+|@)$/i;

function ignoreReason(relPath: string, isDir: boolean): string | undefined {
  const name = relPath.split('/').pop() ?? relPath;
  if (isDir && IGNORED_DIRS.has(name)) return 'ignored folder';
  if (!isDir && IGNORED_FILES.has(name)) return 'ignored system file';
  if (!isDir && BLENDER_BACKUP.test(name)) return 'Blender backup file';
  return undefined;
}

const isBlendName = (p: string) => /\.blend$/i.test(p);

export async function discoverProject(input: string, options: DiscoverOptions = {}): Promise<Project> {
  const absInput = path.resolve(input);
  let info;
  try {
    info = await stat(absInput);
  } catch {
    throw new ProjectError(`project ${input} does not exist`);
  }
  let listing: Omit<Project, 'blend'>;
  if (info.isDirectory()) {
    listing = await listFolder(absInput);
  } else if (info.isFile() && (await looksLikeZip(absInput))) {
    listing = await listZip(absInput, { ...DEFAULT_ZIP_LIMITS, ...options.zipLimits });
  } else if (info.isFile() && (await isBlendFile(absInput))) {
    const name = path.basename(absInput);
    listing = {
      kind: 'blend',
      input: absInput,
      root: path.dirname(absInput),
      files: [{ path: name, size: info.size, source: { kind: 'fs', absPath: absInput } }],
      skipped: [],
    };
  } else {
    throw new ProjectError(`project ${input} is not a .blend file, a folder or a .zip`);
  }
  return { ...listing, blend: chooseBlend(listing, options.blend) };
}

function chooseBlend(listing: Omit<Project, 'blend'>, wanted: string | undefined): string {
  const candidates = listing.files.map((f) => f.path).filter(isBlendName);
  const list = (paths: string[]) => paths.map((p) => `  ${p}`).join('\n');
  if (wanted !== undefined) {
    let rel = wanted.replace(/\\/g, '/');
    if (path.isAbsolute(wanted) && listing.kind !== 'zip') rel = path.relative(listing.root, wanted).split(path.sep).join('/');
    rel = path.posix.normalize(rel).replace(/^\.\//, '');
    if (candidates.includes(rel)) return rel;
    // Allow just the file name when it is unambiguous ("--blend shot.blend").
    const byName = candidates.filter((c) => path.posix.basename(c) === rel);
    if (byName.length === 1) return byName[0]!;
    throw new ProjectError(
      candidates.length === 0
        ? `--blend ${wanted}: the project has no .blend file`
        : `--blend ${wanted} is not a .blend file of the project; its .blend files are:\n${list(candidates)}`,
    );
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw new ProjectError(`no .blend file in ${listing.input}`);
  throw new ProjectError(`${listing.input} has ${candidates.length} .blend files; choose one with --blend:\n${list(candidates)}`);
}

async function looksLikeZip(file: string): Promise<boolean> {
  if (/\.zip$/i.test(file)) return true;
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  } finally {
    await handle.close();
  }
}

async function listFolder(root: string): Promise<Omit<Project, 'blend'>> {
  const realRoot = await realpath(root);
  const files: ProjectFile[] = [];
  const skipped: Project['skipped'] = [];

  async function walk(dir: string, relDir: string): Promise<void> {
    for await (const entry of await opendir(dir)) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const reason = ignoreReason(rel, true);
        if (reason) skipped.push({ path: `${rel}/`, reason });
        else await walk(abs, rel);
      } else if (entry.isFile()) {
        const reason = ignoreReason(rel, false);
        if (reason) skipped.push({ path: rel, reason });
        else files.push({ path: rel, size: (await lstat(abs)).size, source: { kind: 'fs', absPath: abs } });
      } else if (entry.isSymbolicLink()) {
        // A link to a file inside the project is uploaded as that file's content; anything else
        // (links out of the project, to folders, dangling) is left out, visibly.
        let target: string;
        try {
          target = await realpath(abs);
        } catch {
          skipped.push({ path: rel, reason: 'dangling symlink' });
          continue;
        }
        const fromRoot = path.relative(realRoot, target);
        const inside = fromRoot !== '..' && !fromRoot.startsWith(`..${path.sep}`) && !path.isAbsolute(fromRoot);
        const targetInfo = await stat(target);
        if (!inside) skipped.push({ path: rel, reason: `symlink to ${target}, outside the project` });
        else if (!targetInfo.isFile()) skipped.push({ path: rel, reason: 'symlink to a folder' });
        else files.push({ path: rel, size: targetInfo.size, source: { kind: 'fs', absPath: abs } });
      } else {
        skipped.push({ path: rel, reason: 'not a regular file' });
      }
    }
  }
  await walk(root, '');
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kind: 'folder', input: root, root, files, skipped };
}

function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // strictFileNames false: Windows zips with "\" separators are read as "/" (then checked).
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(new ProjectError(`${zipPath} is not a readable zip: ${err.message}`)) : resolve(zip),
    );
  });
}

/** Visit every entry of a zip in order; `visit` may return a promise to pause the walk. */
async function forEachEntry(zipPath: string, zip: yauzl.ZipFile, visit: (entry: yauzl.Entry) => Promise<void> | void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      Promise.resolve()
        .then(() => visit(entry))
        .then(() => zip.readEntry(), reject);
    });
    zip.on('end', () => resolve());
    zip.on('error', (err: Error) => reject(explainZipError(zipPath, err)));
    zip.readEntry();
  });
}

/** yauzl checks entry names itself before we see them; say what its terse messages mean. */
function explainZipError(zipPath: string, err: Error): Error {
  if (err instanceof ProjectError) return err;
  const m = /^(absolute path|invalid relative path|invalid characters in fileName): (.*)$/.exec(err.message);
  if (m) {
    const why =
      m[1] === 'absolute path'
        ? 'absolute paths are not allowed'
        : m[1] === 'invalid relative path'
          ? 'paths containing ".." could write outside the project'
          : 'the name has invalid characters';
    return new ProjectError(`unsafe zip ${zipPath}: entry "${m[2]}": ${why}`);
  }
  return new ProjectError(`zip ${zipPath} is damaged: ${err.message}`);
}

/** Our own check of an entry name, whatever yauzl already did. */
function unsafeEntryReason(name: string): string | undefined {
  if (name.includes('\0')) return 'the name contains a NUL byte';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute paths are not allowed';
  if (name.split('/').includes('..')) return 'paths containing ".." could write outside the project';
  return undefined;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;

function isSymlinkEntry(entry: yauzl.Entry): boolean {
  return entry.versionMadeBy >> 8 === MADE_BY_UNIX && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK;
}

async function listZip(zipPath: string, limits: ZipLimits): Promise<Omit<Project, 'blend'>> {
  const zip = await openZip(zipPath);
  const files: ProjectFile[] = [];
  const skipped: Project['skipped'] = [];
  const seen = new Set<string>();
  let total = 0;
  let count = 0;
  const fail = (message: string) => {
    throw new ProjectError(`unsafe zip ${zipPath}: ${message}`);
  };
  try {
    await forEachEntry(zipPath, zip, (entry) => {
      const name = entry.fileName;
      if (++count > limits.maxEntries) fail(`more than ${limits.maxEntries} entries`);
      const unsafe = unsafeEntryReason(name);
      if (unsafe) fail(`entry "${name}": ${unsafe}`);
      if (isSymlinkEntry(entry)) fail(`entry "${name}" is a symbolic link; zip the files themselves`);
      if (name.endsWith('/')) {
        const reason = ignoreReason(name.slice(0, -1), true);
        if (reason) skipped.push({ path: name, reason });
        return;
      }
      const parts = name.split('/');
      const ignoredDir = parts.slice(0, -1).find((p) => IGNORED_DIRS.has(p));
      const reason = ignoredDir ? 'ignored folder' : ignoreReason(name, false);
      if (reason) {
        skipped.push({ path: name, reason });
        return;
      }
      if (entry.isEncrypted()) fail(`entry "${name}" is encrypted`);
      if (seen.has(name)) fail(`entry "${name}" appears twice`);
      seen.add(name);
      total += entry.uncompressedSize;
      if (total > limits.maxTotalBytes) {
        fail(`it expands to more than ${formatBytes(limits.maxTotalBytes)} (a zip bomb?); raise the limit if this is intended`);
      }
      const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
      if (entry.uncompressedSize >= limits.ratioMinBytes && ratio > limits.maxRatio) {
        fail(`entry "${name}" expands ${Math.round(ratio)}x (${formatBytes(entry.compressedSize)} to ${formatBytes(entry.uncompressedSize)}), more than the ${limits.maxRatio}x allowed (a zip bomb?)`);
      }
      files.push({ path: name, size: entry.uncompressedSize, source: { kind: 'zip', zipPath, entryName: name } });
    });
  } finally {
    zip.close();
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kind: 'zip', input: zipPath, root: zipPath, files, skipped };
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

/** A readable stream of one project file's bytes (for upload). */
export async function openProjectFile(file: ProjectFile): Promise<Readable> {
  if (file.source.kind === 'fs') return createReadStream(file.source.absPath);
  const { zipPath, entryName } = file.source;
  const zip = await openZip(zipPath);
  let found: Readable | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== entryName) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(explainZipError(zipPath, err));
          found = stream;
          resolve();
        });
      });
      zip.on('end', () => resolve());
      zip.on('error', (err: Error) => reject(explainZipError(zipPath, err)));
      zip.readEntry();
    });
  } finally {
    zip.close(); // the file stays open until the entry's stream has ended
  }
  if (!found) throw new ProjectError(`zip ${zipPath} has no entry "${entryName}"`);
  return found;
}

async function hashStream(stream: Readable, file: ProjectFile): Promise<HashedProjectFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  if (size !== file.size) throw new ProjectError(`${file.path} changed while it was being read (${file.size} bytes listed, ${size} read)`);
  return { ...file, sha256: hash.digest('hex') };
}

/**
 * The project's files with their sha256, one at a time, reading each as a stream. A zip is read
 * in a single pass over its entries.
 */
export async function* hashProjectFiles(project: Pick<Project, 'files'>): AsyncGenerator<HashedProjectFile> {
  const zipFiles = new Map<string, Map<string, ProjectFile>>();
  for (const file of project.files) {
    if (file.source.kind === 'fs') {
      yield await hashStream(createReadStream(file.source.absPath), file);
    } else {
      const byEntry = zipFiles.get(file.source.zipPath) ?? new Map<string, ProjectFile>();
      byEntry.set(file.source.entryName, file);
      zipFiles.set(file.source.zipPath, byEntry);
    }
  }
  for (const [zipPath, byEntry] of zipFiles) {
    // An async generator cannot yield from inside yauzl's callbacks, so hash entries in the
    // walk and hand results over through a small queue.
    const zip = await openZip(zipPath);
    const results: HashedProjectFile[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const walk = forEachEntry(zipPath, zip, async (entry) => {
      const file = byEntry.get(entry.fileName);
      if (!file) return;
      const stream = await zip.openReadStreamPromise(entry);
      results.push(await hashStream(stream, file).catch((err: Error) => Promise.reject(explainZipError(zipPath, err))));
      wake?.();
    })
      .catch((err: unknown) => {
        failure = err;
      })
      .finally(() => {
        done = true;
        zip.close();
        wake?.();
      });
    while (true) {
      const next = results.shift();
      if (next) {
        yield next;
        continue;
      }
      if (done) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    await walk;
    if (failure) throw failure;
  }
}
