// The agent's cache of job files by sha256: fetched once per agent, verified, then copied into
// each task's own directory (never linked, so a task cannot change the cached copy).
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiClient } from '../client/api-client.js';

export class BlobCache {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly root: string,
    private readonly client: ApiClient,
  ) {}

  pathOf(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
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
    const res = await this.client.download(`/blobs/${sha256}`, { retryForMs: 60_000 });
    const hash = createHash('sha256');
    const meter = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), meter, createWriteStream(tmp));
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new Error(`file ${sha256} arrived corrupted (it hashes to ${actual})`);
      await rename(tmp, path);
      return path;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
