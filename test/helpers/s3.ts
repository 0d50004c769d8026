// A throwaway S3-compatible server for tests: s3rver in this process, on a free port, storing in a
// temporary directory, with one bucket. It records every request it answers so tests can see who
// fetched what and how the request was authorized.
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './postgres.js';

interface S3rverInstance {
  run(): Promise<unknown>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;

// s3rver is CommonJS without type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export interface S3Request {
  method: string;
  /** The path, without the query. */
  path: string;
  /** Signed by query parameters (a presigned URL). */
  presigned: boolean;
  /** The Authorization header, if any. */
  authorization: string | undefined;
}

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** s3rver checks that the key id exists but not v4 signatures: the secret is ours to pick, so tests
   * can look for it in output. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment a coordinator needs to use this server. */
  env: Record<string, string>;
  client: S3Client;
  requests: S3Request[];
  /** Keys under `prefix` in the bucket. */
  list(prefix: string): Promise<{ key: string; size: number }[]>;
  get(key: string): Promise<Buffer>;
  put(key: string, body: Buffer | string): Promise<void>;
  remove(key: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3(bucket = 'drover-test'): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'drover-s3-'));
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
  await server.run();
  const requests: S3Request[] = [];
  server.httpServer!.on('request', (req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? '', path: url.pathname, presigned: url.searchParams.has('X-Amz-Signature'), authorization: req.headers.authorization });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = 'S3RVER';
  const secretAccessKey = `drover-test-secret-${Math.random().toString(36).slice(2)}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: 'us-east-1', DROVER_S3_ENDPOINT: endpoint },
    client,
    requests,
    async list(prefix) {
      const out: { key: string; size: number }[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
        token = page.NextContinuationToken;
      } while (token);
      return out;
    },
    async get(key) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    },
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async stop() {
      client.destroy();
      await server.close();
      if (!process.env.DROVER_KEEP_TEST_DATA) await rm(dir, { recursive: true, force: true });
    },
  };
}
