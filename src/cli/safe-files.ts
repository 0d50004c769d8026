// Writing downloaded files into a folder the CLI does not control. The destination may already hold
// symbolic links (made by someone else, or left over) that would lead a write elsewhere, and a
// result's name may be longer than the local file system allows. Nothing here follows or replaces a
// symbolic link, no file is written half (a temporary name, then a rename), and no temporary file
// outlives a failure.
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The longest file name (one path component) most file systems take, in bytes. */
export const NAME_MAX = 255;

/** A file that was not written, and why, in words for the person who asked. */
export class UnsafeDestinationError extends Error {}

/**
 * A name that fits NAME_MAX: too long, it keeps its start and its extension and gets a short hash of
 * the whole name, so two long names that start alike stay apart. Returns the name unchanged if it fits.
 */
export function fittingName(name: string): string {
  if (Buffer.byteLength(name) <= NAME_MAX) return name;
  const ext = extname(name);
  const keepExt = Buffer.byteLength(ext) <= 32 ? ext : '';
  const tag = `~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  const room = NAME_MAX - Buffer.byteLength(keepExt) - Buffer.byteLength(tag);
  let stem = name.slice(0, name.length - keepExt.length);
  // Cut by characters until it fits in bytes, so a multi-byte character is never split.
  while (Buffer.byteLength(stem) > room) stem = stem.slice(0, -1);
  return `${stem}${tag}${keepExt}`;
}

/**
 * Makes `root/parts…` a chain of real directories (creating what is missing), refusing at the first
 * component that is a symbolic link or not a directory. `root` itself is the person's choice and is
 * taken as it is.
 */
export async function realDirectory(root: string, parts: readonly string[]): Promise<string> {
  let dir = root;
  await mkdir(root, { recursive: true });
  for (const part of parts) {
    dir = join(dir, part);
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await lstat(dir);
    if (info.isSymbolicLink()) throw new UnsafeDestinationError(`${dir} is a symbolic link: not followed (remove it to download there)`);
    if (!info.isDirectory()) throw new UnsafeDestinationError(`${dir} is in the way: it is not a folder`);
  }
  return dir;
}

/** What is at `path` without following a link: 'missing', 'file' or a refusal. */
async function existing(path: string): Promise<{ kind: 'missing' } | { kind: 'file'; size: number }> {
  try {
    const info = await lstat(path);
    if (info.isSymbolicLink()) throw new UnsafeDestinationError(`${path} is a symbolic link: not followed or replaced`);
    if (!info.isFile()) throw new UnsafeDestinationError(`${path} is in the way: it is not a regular file`);
    return { kind: 'file', size: info.size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Whether `path` already holds exactly these bytes (a download resumed after an interruption). */
export async function alreadyThere(path: string, expected: { sha256: string; size: number }): Promise<boolean> {
  const found = await existing(path);
  return found.kind === 'file' && found.size === expected.size && (await sha256Of(path)) === expected.sha256;
}

/**
 * Writes `source` to `dir/name`: into a new temporary file (O_CREAT|O_EXCL|O_NOFOLLOW, a short
 * random name so even a 255-byte final name fits), checked against `sha256` when given, then
 * renamed into place. A symbolic link at the final name is refused, never followed or replaced.
 */
export async function writeSafely(dir: string, name: string, source: Readable | string, sha256?: string): Promise<void> {
  const target = join(dir, name);
  await existing(target);
  const tmp = join(dir, `.drover-${randomBytes(6).toString('hex')}.part`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    const hash = createHash('sha256');
    const meter = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const out = createWriteStream('', { fd: handle.fd, autoClose: false });
    if (typeof source === 'string') {
      await pipeline(async function* () {
        yield Buffer.from(source);
      }, meter, out);
    } else {
      await pipeline(source, meter, out);
    }
    await handle.close();
    const actual = hash.digest('hex');
    if (sha256 && actual !== sha256) throw new UnsafeDestinationError(`${target} arrived corrupted (sha256 ${actual}, expected ${sha256})`);
    // Checked again just before the rename; rename itself replaces a link that appears meanwhile
    // rather than writing through it, so nothing lands outside `dir`.
    await existing(target);
    await rename(tmp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
