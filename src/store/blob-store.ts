// Content-addressed file storage on disk: a file is stored once under its sha256, whoever sends it
// and however often. Writes go to a temporary file that is hashed on the way, synced and renamed
// into place, so a crash or a full disk never leaves a half-written blob under a real name.
// The interface is shared with the S3 store (s3-blob-store.ts), which is why coordinator code never
// assumes a blob is a file on its disk: it asks for a local file (`materialize`) when it needs one.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, rename, rm, stat, statfs, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PRIVATE_DIR, PRIVATE_FILE, restrictTreeOnce } from './private-files.js';
import type { BlobsLocation } from '../core/blobs-location.js';

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export class BlobHashMismatchError extends Error {}
export class BlobTooLargeError extends Error {}
/** Storing the file would leave less free disk than the configured reserve (or the disk is full). */
export class BlobStorageFullError extends Error {}
/** The configured blob store cannot be used (e.g. its bucket is unreachable); the coordinator stops. */
export class BlobStoreUnavailableError extends Error {}

// Pure, so `drover server --blobs` is checked without loading the store (src/core/blobs-location.ts).
export { type BlobsLocation, parseBlobsLocation } from '../core/blobs-location.js';
export type S3Location = Omit<Extract<BlobsLocation, { kind: 's3' }>, 'kind'>;

export interface StoredBlob {
  sha256: string;
  size: number;
}

export interface BlobStore {
  has(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | null>;
  /** Stores a stream; when `expected` is given, bytes hashing to anything else are refused. */
  put(source: Readable, expected?: string, maxBytes?: number): Promise<StoredBlob>;
  /** The blob's bytes; a missing blob makes the stream fail (check `size` first to answer 404). */
  read(sha256: string): Readable;
  /** Makes `dest` (a path that does not exist yet) a local file with the blob's bytes, for programs
   * that need a file (ffmpeg, the .blend check). It may be a link into the store: never write to it. */
  materialize(sha256: string, dest: string): Promise<void>;
  /** A short-lived URL agents may fetch the blob from without credentials, or null when the store
   * has none (the coordinator then streams the blob itself). */
  downloadUrl(sha256: string): Promise<string | null>;
  /** Refuses, before a byte is read, an upload of `bytes` that would eat into the local disk reserve. */
  assertRoomFor?(bytes: number): Promise<void>;
  /** Removes the blob; one already gone is no error (collection may run on several replicas). */
  remove(sha256: string): Promise<void>;
  /** Every blob the store holds, with its size and when it was written (for the sweep of files the
   * store's records do not know: those a crash left between removing a record and its file). */
  list(): AsyncIterable<{ sha256: string; size: number; modifiedAt: Date }>;
}

/** Runs `fn` on a local file holding the blob, removed afterwards. */
export async function withLocalBlob<T>(store: BlobStore, sha256: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-blob-'));
  try {
    const path = join(dir, 'blob');
    await store.materialize(sha256, path);
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The sha256 and size of bytes streamed from `source` into the file `target`; past `maxBytes` the
 * copy stops with BlobTooLargeError. `onChunk` sees every chunk as it passes (for extra digests). */
export async function writeHashed(source: Readable, target: string, maxBytes = Number.MAX_SAFE_INTEGER, onChunk?: (chunk: Buffer) => void): Promise<StoredBlob> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new BlobTooLargeError(`the file is larger than the limit of ${maxBytes} bytes`));
      hash.update(chunk);
      onChunk?.(chunk);
      done(null, chunk);
    },
  });
  // The file is opened before the first byte is read: a write stream opened lazily can create the
  // file after a refused upload was already cleaned up, leaving an orphan behind.
  const file = await open(target, 'w', PRIVATE_FILE);
  await pipeline(source, meter, file.createWriteStream());
  return { sha256: hash.digest('hex'), size };
}

/** Refuses a file of `bytes` that would leave less than `minFreeBytes` free on the file system of `dir`. */
export async function assertDiskRoom(dir: string, minFreeBytes: number, bytes: number): Promise<void> {
  if (minFreeBytes <= 0 && bytes <= 0) return;
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  if (free - bytes < minFreeBytes) {
    throw new BlobStorageFullError(`the coordinator has ${free} bytes of disk free and keeps ${minFreeBytes} in reserve: a file of ${bytes} bytes does not fit`);
  }
}

export class DiskBlobStore implements BlobStore {
  /** `minFreeBytes`: disk space kept free for the database and logs; uploads never eat into it. */
  constructor(
    private readonly root: string,
    private readonly minFreeBytes = 0,
    /** No other coordinator shares the directory (SQLite): every leftover in tmp/ is a crash's. */
    private readonly exclusive = false,
  ) {}

  /** Refuses, before a byte is read, an upload of `bytes` that would eat into the reserve. */
  assertRoomFor(bytes: number): Promise<void> {
    return assertDiskRoom(this.root, this.minFreeBytes, bytes);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true, mode: PRIVATE_DIR });
    // An older farm made these world-readable: the root is closed at once, what is inside is
    // fixed by a walk (once) that need not hold up the start.
    await chmod(this.root, PRIVATE_DIR);
    await chmod(join(this.root, 'tmp'), PRIVATE_DIR);
    void restrictTreeOnce(this.root).catch((err: Error) => console.error(`[coordinator] could not make the blob store's files private: ${err.message}`));
    // Partial uploads a crash left behind are of no use to anyone: no upload of this process is under
    // way yet. (Replicas sharing the directory: only files older than a day, which no upload still writes.)
    const dayAgo = Date.now() - 86_400_000;
    for (const name of await readdir(join(this.root, 'tmp'))) {
      const path = join(this.root, 'tmp', name);
      const st = await stat(path).catch(() => null);
      if (st && (this.exclusive || st.mtimeMs < dayAgo)) await rm(path, { force: true, recursive: true });
    }
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<{ sha256: string; size: number; modifiedAt: Date }> {
    for (const dir of await readdir(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      for (const rest of await readdir(join(this.root, dir)).catch(() => [] as string[])) {
        const sha256 = dir + rest;
        if (!SHA256_PATTERN.test(sha256)) continue;
        const st = await stat(join(this.root, dir, rest)).catch(() => null);
        if (st?.isFile()) yield { sha256, size: st.size, modifiedAt: st.mtime };
      }
    }
  }

  pathOf(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      return null;
    }
  }

  read(sha256: string): Readable {
    return createReadStream(this.pathOf(sha256));
  }

  async materialize(sha256: string, dest: string): Promise<void> {
    const source = this.pathOf(sha256);
    // Fail here, not later in the program that opens the link.
    await stat(source);
    await symlink(source, dest);
  }

  async downloadUrl(): Promise<string | null> {
    return null;
  }

  async put(source: Readable, expected?: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<StoredBlob> {
    const tmp = join(this.root, 'tmp', `${Date.now()}-${randomBytes(6).toString('hex')}`);
    try {
      const { sha256, size } = await writeHashed(source, tmp, maxBytes);
      if (expected && sha256 !== expected) {
        throw new BlobHashMismatchError(`the uploaded bytes hash to ${sha256}, not ${expected}`);
      }
      const handle = await open(tmp, 'r');
      await handle.sync();
      await handle.close();
      // Chunked uploads announce no size: check the reserve again now that the file is written.
      await this.assertRoomFor(0);
      const target = this.pathOf(sha256);
      await mkdir(join(target, '..'), { recursive: true, mode: PRIVATE_DIR });
      await rename(tmp, target);
      return { sha256, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
