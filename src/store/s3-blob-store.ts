// Blobs in S3-compatible object storage, named `<prefix>/<sha[0:2]>/<sha[2:]>`. An upload is first
// written to a local spool file while it is hashed (so a wrong hash or an oversized file is refused
// before S3 sees a byte), then sent with its length and a Content-MD5 per request: S3 refuses bytes
// damaged on the way, and PutObject / CompleteMultipartUpload make the object appear whole or not
// at all, so no object ever sits under a sha256 it does not match.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type BlobStore,
  type S3Location,
  BlobHashMismatchError,
  BlobStoreUnavailableError,
  SHA256_PATTERN,
  type StoredBlob,
  assertDiskRoom,
  writeHashed,
} from './blob-store.js';

/** S3 allows at most this many parts in one multipart upload. */
const MAX_PARTS = 10_000;
/** Attempts at sending one object or part; each resends from the spool file (a consumed stream
 * cannot be replayed by the SDK's own retries). */
const SEND_ATTEMPTS = 3;

export interface S3BlobStoreOptions {
  location: S3Location;
  client: S3Client;
  /** Local directory for uploads being hashed (on the coordinator's data disk). */
  spoolDir: string;
  /** Free disk kept in reserve on the spool's file system. */
  minFreeBytes?: number;
  /** Hand agents presigned GET URLs (default true). */
  presign?: boolean;
  presignSeconds?: number;
  /** Files larger than this go up in parts of this size (at least 5 MiB, S3's minimum). */
  partSize?: number;
  /** Shown in errors instead of the AWS endpoint (never carries credentials). */
  endpointLabel?: string;
}

/** A client configured from the standard AWS environment, plus an endpoint for S3-compatible
 * servers (`DROVER_S3_ENDPOINT` or `AWS_ENDPOINT_URL_S3`), which are addressed path-style. */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): { client: S3Client; endpoint: string | null } {
  const endpoint = env.DROVER_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || null;
  if (endpoint) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new BlobStoreUnavailableError('the S3 endpoint (DROVER_S3_ENDPOINT or AWS_ENDPOINT_URL_S3) is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BlobStoreUnavailableError('the S3 endpoint must be an http:// or https:// URL');
  }
  const keys = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
    : null;
  const client = new S3Client({
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    // Without keys in the environment the SDK's own chain applies (profiles, instance roles, …).
    ...(keys ? { credentials: keys } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // The SDK's newer default CRC checksums are unknown to many S3-compatible servers; every upload
    // carries a Content-MD5 instead, and readers verify the sha256 themselves.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000 },
  });
  return { client, endpoint: endpoint ? new URL(endpoint).origin : null };
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return statusOf(err) === 404 || name === 'NotFound' || name === 'NoSuchKey';
}

/** MD5s of consecutive `partSize` slices of a stream, for Content-MD5 on each part sent. */
class PartDigests {
  private readonly finished: string[] = [];
  private current = createHash('md5');
  private filled = 0;

  constructor(private readonly partSize: number) {}

  update(chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; ) {
      const take = Math.min(this.partSize - this.filled, chunk.length - offset);
      this.current.update(chunk.subarray(offset, offset + take));
      this.filled += take;
      offset += take;
      if (this.filled === this.partSize) {
        this.finished.push(this.current.digest('base64'));
        this.current = createHash('md5');
        this.filled = 0;
      }
    }
  }

  /** One digest per part; an empty file is one empty part. */
  done(): string[] {
    if (this.filled > 0 || this.finished.length === 0) this.finished.push(this.current.digest('base64'));
    return this.finished;
  }
}

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(private readonly opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.location.bucket;
    this.prefix = opts.location.prefix;
    this.partSize = Math.max(5 * 1024 ** 2, opts.partSize ?? 64 * 1024 ** 2);
  }

  get label(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  /** Prepares the spool and checks, once, that the bucket answers to our credentials. */
  async init(): Promise<void> {
    await mkdir(this.opts.spoolDir, { recursive: true, mode: 0o700 });
    // The spool is this coordinator's own: what is in it at start is a crash's partial uploads.
    for (const name of await readdir(this.opts.spoolDir)) await rm(join(this.opts.spoolDir, name), { force: true, recursive: true });
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(30_000) });
    } catch (err) {
      const at = this.opts.endpointLabel ? ` at ${this.opts.endpointLabel}` : '';
      throw new BlobStoreUnavailableError(`cannot use the S3 bucket "${this.bucket}"${at}: ${this.explain(err)}`);
    }
  }

  private explain(err: unknown): string {
    const status = statusOf(err);
    if (status === 404) return 'it does not exist';
    if (status === 403) return 'access denied (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy)';
    if (status === 301) return 'it is in another region (set AWS_REGION)';
    const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code;
    if (!status && code && /^E[A-Z]+$/.test(code)) return `cannot connect (${code})`;
    return status ? `HTTP ${status} (${e.name ?? e.message})` : (e.message ?? String(err));
  }

  keyOf(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    const name = `${sha256.slice(0, 2)}/${sha256.slice(2)}`;
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
      return head.ContentLength ?? null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  read(sha256: string): Readable {
    const get = () => this.open(sha256);
    // Synchronous like the disk store's read: the request starts when the stream is first read.
    return Readable.from(
      (async function* () {
        yield* await get();
      })(),
      { objectMode: false },
    );
  }

  private async open(sha256: string): Promise<Readable> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
    return res.Body as Readable;
  }

  async materialize(sha256: string, dest: string): Promise<void> {
    const { sha256: actual } = await writeHashed(await this.open(sha256), dest);
    if (actual !== sha256) {
      await rm(dest, { force: true });
      throw new Error(`the object store's copy of file ${sha256} is corrupted (it hashes to ${actual})`);
    }
  }

  async downloadUrl(sha256: string): Promise<string | null> {
    if (this.opts.presign === false) return null;
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) });
    return getSignedUrl(this.client, command, { expiresIn: this.opts.presignSeconds ?? 300 });
  }

  async remove(sha256: string): Promise<void> {
    // S3 answers a delete of a missing key with success too.
    await this.resend(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) })));
  }

  async *list(): AsyncIterable<{ sha256: string; size: number; modifiedAt: Date }> {
    const start = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: start, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) {
        const sha256 = (o.Key ?? '').slice(start.length).replace('/', '');
        if (SHA256_PATTERN.test(sha256) && o.Key === this.keyOf(sha256)) yield { sha256, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date() };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  assertRoomFor(bytes: number): Promise<void> {
    return assertDiskRoom(this.opts.spoolDir, this.opts.minFreeBytes ?? 0, bytes);
  }

  async put(source: Readable, expected?: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<StoredBlob> {
    const spool = join(this.opts.spoolDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const digests = new PartDigests(this.partSize);
    try {
      const stored = await writeHashed(source, spool, Math.min(maxBytes, this.partSize * MAX_PARTS), (c) => digests.update(c));
      if (expected && stored.sha256 !== expected) {
        throw new BlobHashMismatchError(`the uploaded bytes hash to ${stored.sha256}, not ${expected}`);
      }
      const md5s = digests.done();
      const key = this.keyOf(stored.sha256);
      if (md5s.length === 1) await this.putWhole(key, spool, stored.size, md5s[0]!);
      else await this.putInParts(key, spool, stored.size, md5s);
      return stored;
    } finally {
      await rm(spool, { force: true });
    }
  }

  private async resend<T>(send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        const status = statusOf(err);
        // 4xx answers (bad digest, access denied) will not change on a resend.
        if (attempt >= SEND_ATTEMPTS || (status !== undefined && status < 500)) throw err;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  private putWhole(key: string, spool: string, size: number, md5: string): Promise<unknown> {
    return this.resend(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(spool),
          ContentLength: size,
          ContentMD5: md5,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
  }

  private async putInParts(key: string, spool: string, size: number, md5s: string[]): Promise<void> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' }));
    if (!UploadId) throw new Error('the object store started a multipart upload without an id');
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (const [i, md5] of md5s.entries()) {
        const start = i * this.partSize;
        const length = Math.min(this.partSize, size - start);
        const res = await this.resend(() =>
          this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId,
              PartNumber: i + 1,
              Body: createReadStream(spool, { start, end: start + length - 1 }),
              ContentLength: length,
              ContentMD5: md5,
            }),
          ),
        );
        parts.push({ ETag: res.ETag!, PartNumber: i + 1 });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      // Parts of an unfinished upload are invisible but billed: drop them.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
      throw err;
    }
  }
}
