// Content-addressed file storage on disk: a file is stored once under its sha256, whoever sends it
// and however often. Writes go to a temporary file that is hashed on the way, synced and renamed
// into place, so a crash or a full disk never leaves a half-written blob under a real name.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export class BlobHashMismatchError extends Error {}
export class BlobTooLargeError extends Error {}
/** Storing the file would leave less free disk than the configured reserve (or the disk is full). */
export class BlobStorageFullError extends Error {}

export interface StoredBlob {
  sha256: string;
  size: number;
}

export interface BlobStore {
  has(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | null>;
  /** Stores a stream; when `expected` is given, bytes hashing to anything else are refused. */
  put(source: Readable, expected?: string, maxBytes?: number): Promise<StoredBlob>;
  read(sha256: string): ReadStream;
  pathOf(sha256: string): string;
}

export class DiskBlobStore implements BlobStore {
  /** `minFreeBytes`: disk space kept free for the database and logs; uploads never eat into it. */
  constructor(
    private readonly root: string,
    private readonly minFreeBytes = 0,
  ) {}

  /** Refuses, before a byte is read, an upload of `bytes` that would eat into the reserve. */
  async assertRoomFor(bytes: number): Promise<void> {
    if (this.minFreeBytes <= 0 && bytes <= 0) return;
    const free = await this.freeBytes();
    if (free - bytes < this.minFreeBytes) {
      throw new BlobStorageFullError(`the coordinator has ${free} bytes of disk free and keeps ${this.minFreeBytes} in reserve: a file of ${bytes} bytes does not fit`);
    }
  }

  private async freeBytes(): Promise<number> {
    const s = await statfs(this.root);
    return s.bavail * s.bsize;
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
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

  read(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }

  async put(source: Readable, expected?: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<StoredBlob> {
    const tmp = join(this.root, 'tmp', `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new BlobTooLargeError(`the file is larger than the limit of ${maxBytes} bytes`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp));
      const sha256 = hash.digest('hex');
      if (expected && sha256 !== expected) {
        throw new BlobHashMismatchError(`the uploaded bytes hash to ${sha256}, not ${expected}`);
      }
      const handle = await open(tmp, 'r');
      await handle.sync();
      await handle.close();
      // Chunked uploads announce no size: check the reserve again now that the file is written.
      await this.assertRoomFor(0);
      const target = this.pathOf(sha256);
      await mkdir(join(target, '..'), { recursive: true });
      await rename(tmp, target);
      return { sha256, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
