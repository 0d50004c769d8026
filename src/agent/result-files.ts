// Collecting a task's results: regular files under run-result/, hashed, uploaded once each.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { relativePathProblem } from '../core/inputs.js';
import type { ApiClient, RequestOptions } from '../client/api-client.js';
import type { MissingBlobsAnswer } from '../wire/blobs.js';

export interface LocalFile {
  path: string;
  absPath: string;
  sha256: string;
  size: number;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Lists the regular files below `root`. Symbolic links are skipped, never followed: a task could
 * otherwise point one at the agent's own files and have them uploaded as its results. Paths in
 * `exclude` (already delivered, e.g. frames uploaded as they were saved) are left out unread.
 */
export async function collectFiles(root: string, skipped: (path: string, why: string) => void, exclude: ReadonlySet<string> = new Set()): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const rel = relative(root, abs).split(sep).join('/');
      const info = await lstat(abs);
      if (info.isSymbolicLink()) skipped(rel, 'it is a symbolic link');
      else if (info.isDirectory()) await walk(abs);
      else if (info.isFile()) {
        if (exclude.has(rel)) continue;
        const problem = relativePathProblem(rel);
        if (problem) skipped(rel, problem);
        else out.push({ path: rel, absPath: abs, sha256: await sha256File(abs), size: info.size });
      }
    }
  }
  await walk(root);
  return out;
}

/** Uploads the files the coordinator lacks (by hash); the others are already stored. */
export async function uploadMissing(client: ApiClient, files: readonly { sha256: string; absPath: string }[], retry: RequestOptions = { retryForMs: 60_000 }): Promise<number> {
  if (files.length === 0) return 0;
  const { missing } = await client.json<MissingBlobsAnswer>('POST', '/blobs/missing', { hashes: [...new Set(files.map((f) => f.sha256))] }, retry);
  const wanted = new Set(missing);
  let sent = 0;
  for (const f of files) {
    if (!wanted.has(f.sha256)) continue;
    wanted.delete(f.sha256);
    await client.uploadFile(f.sha256, f.absPath, retry);
    sent++;
  }
  return sent;
}

/**
 * Files up to this size are sent from memory, many in one request (POST /blobs/batch), without
 * asking the coordinator first which it lacks: what an agent just made (a frame, its thumbnails, a
 * task's stdout) is new bytes, so the question cost a round trip and the coordinator's CPU on
 * every frame and task; sending a few small files again costs less. Bigger files are asked about
 * and streamed (uploadMissing).
 */
export const SMALL_FILE_BYTES = 4 * 1024 * 1024;

export interface FileToUpload {
  sha256: string;
  absPath: string;
  /** The bytes, when they were read into memory (then hashed are the bytes sent). */
  bytes?: Buffer;
}

/** A small file read once: its bytes and their hash. */
export async function readFileForUpload(path: string): Promise<FileToUpload & { bytes: Buffer; size: number }> {
  const bytes = await readFile(path);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), absPath: path, bytes, size: bytes.length };
}

/** Sends the files read into memory in one batch, and asks about and streams the others. */
export async function uploadFiles(client: ApiClient, files: readonly FileToUpload[], retry: RequestOptions = { retryForMs: 60_000 }): Promise<void> {
  const inMemory = new Map<string, { sha256: string; bytes: Buffer }>();
  for (const f of files) if (f.bytes) inMemory.set(f.sha256, { sha256: f.sha256, bytes: f.bytes });
  const streamed = files.filter((f) => !f.bytes && !inMemory.has(f.sha256));
  if (streamed.length > 0) await uploadMissing(client, streamed, retry);
  if (inMemory.size > 0) await client.uploadBatch([...inMemory.values()], retry);
}
