// The agent's cache of job files by sha256: fetched once per agent, verified, then copied into
// each task's own directory (never linked, so a task cannot change the cached copy). Frames this
// agent rendered are kept here too as it uploads them (adopt), so the job's preview task, which
// the agent that rendered the last chunk takes, reads them instead of fetching them back. When the
// coordinator keeps blobs in object storage it hands out presigned URLs and the bytes come straight
// from there; they are verified all the same.
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ApiClient, backoffMs, sleep } from '../client/api-client.js';

/** Attempts at fetching a presigned URL, each with a fresh URL from the coordinator. */
const DIRECT_ATTEMPTS = 4;

export class BlobCache {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly root: string,
    private readonly client: ApiClient,
  ) {}

  pathOf(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Whether this agent has the blob already. */
  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** The local path of the blob, fetching it first if this agent does not have it yet. */
  ensure(sha256: string): Promise<string> {
    let pending = this.inflight.get(sha256);
    if (!pending) {
      pending = this.fetch(sha256).finally(() => this.inflight.delete(sha256));
      this.inflight.set(sha256, pending);
    }
    return pending;
  }

  /**
   * Copies a file this agent made (a frame it is about to upload) into the cache and returns its
   * hash, size and cached path. The hash is the copy's, made out of the task's reach, and the copy
   * is what gets uploaded: a task that changes its file meanwhile cannot make the cache (or the
   * coordinator) hold bytes that disagree with their hash. With `keepBytesUpTo`, a file no bigger
   * comes back with its bytes.
   */
  async adopt(file: string, opts: { keepBytesUpTo?: number } = {}): Promise<{ sha256: string; size: number; path: string; bytes?: Buffer }> {
    const tmp = join(this.root, 'tmp', `${randomBytes(8).toString('hex')}.part`);
    await mkdir(dirname(tmp), { recursive: true });
    const hash = createHash('sha256');
    let size = 0;
    let bytes: Buffer | undefined;
    try {
      if (opts.keepBytesUpTo !== undefined && (await stat(file)).size <= opts.keepBytesUpTo) {
        // A small file is read once and its bytes kept: the caller uploads them from memory
        // (hashed are the bytes sent), with no second read of the file.
        bytes = await readFile(file);
        hash.update(bytes);
        size = bytes.length;
        await writeFile(tmp, bytes);
      } else await pipeline(createReadStream(file), hashing(hash, (n) => (size += n)), createWriteStream(tmp));
      const sha256 = hash.digest('hex');
      const path = this.pathOf(sha256);
      await mkdir(dirname(path), { recursive: true });
      // Over a copy already there, the same bytes replace it atomically.
      await rename(tmp, path);
      return bytes ? { sha256, size, path, bytes } : { sha256, size, path };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async copyTo(sha256: string, target: string): Promise<void> {
    await copyFile(await this.ensure(sha256), target);
  }

  private async fetch(sha256: string): Promise<string> {
    const path = this.pathOf(sha256);
    try {
      await stat(path);
      return path;
    } catch {
      // not cached yet
    }
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${randomBytes(4).toString('hex')}.part`;
    const body = await this.open(sha256);
    const hash = createHash('sha256');
    try {
      await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), hashing(hash), createWriteStream(tmp));
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new Error(`file ${sha256} arrived corrupted (it hashes to ${actual})`);
      await rename(tmp, path);
      return path;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** The blob's bytes: from the coordinator, or from the presigned URL it answers with. */
  private async open(sha256: string): Promise<ReadableStream<Uint8Array> | null> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.client.download(`/blobs/${sha256}?presigned=1`, { retryForMs: 60_000 });
      if (!res.headers.get('content-type')?.startsWith('application/json')) return res.body;
      const { url } = (await res.json()) as { url: string };
      let problem: string;
      try {
        // Sent without our token: the URL carries its own short-lived authorization.
        const direct = await fetch(url);
        if (direct.ok) return direct.body;
        await direct.body?.cancel();
        problem = `HTTP ${direct.status}`;
      } catch (err) {
        problem = String((err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message);
      }
      // The URL itself is never logged: until it expires it is a credential for the file.
      if (attempt + 1 >= DIRECT_ATTEMPTS) throw new Error(`file ${sha256} could not be fetched from the object store (${problem})`);
      await sleep(backoffMs(attempt, 500));
    }
  }
}

/** Passes bytes through, hashing (and counting) them on the way. */
function hashing(hash: Hash, counted?: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      counted?.(chunk.length);
      done(null, chunk);
    },
  });
}
