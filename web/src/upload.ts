// Content-addressed upload shared by the new-job forms: hash every file, ask the coordinator which
// blobs it lacks (POST /blobs/missing), send only those, a few requests at a time, with progress:
// small files together (POST /blobs/batch, a request each costs more than their bytes), large
// ones one by one (PUT /blobs/:sha256).
import { api, uploadBlob } from './api.ts';
import { sha256File } from './sha256.ts';
import { BLOB_BATCH_MAX_FILES, blobBatchHead } from '../../src/core/blob-batch.ts';

export type UploadPhase =
  | { step: 'idle' }
  | { step: 'unpacking'; done: number; total: number }
  | { step: 'hashing'; done: number; total: number }
  | { step: 'checking' }
  | { step: 'uploading'; sent: number; total: number; files: number; filesDone: number }
  | { step: 'creating' };

const UPLOAD_CONCURRENCY = 3;
const MISSING_BATCH = 500;
/** Files up to this size go in batches… */
const SMALL_FILE = 1024 * 1024;
/** …of at most this many bytes (well under the coordinator's 64 MB), so progress still moves. */
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_FILES = Math.min(1000, BLOB_BATCH_MAX_FILES);

/** One request's worth: a large file alone, or small files together. */
interface Upload {
  hashes: string[];
  body: Blob;
  /** Bytes of the files themselves (a batch also carries a line per file). */
  size: number;
}

/** Cuts the missing files into requests: small ones in batches, in order, large ones alone. */
function plan(queue: string[], blobs: Map<string, Blob>): Upload[] {
  const uploads: Upload[] = [];
  let batch: string[] = [];
  let batchBytes = 0;
  const close = () => {
    if (batch.length === 0) return;
    const parts: BlobPart[] = [];
    for (const hash of batch) parts.push(blobBatchHead(hash, blobs.get(hash)!.size), blobs.get(hash)!);
    uploads.push({ hashes: batch, body: new Blob(parts), size: batchBytes });
    batch = [];
    batchBytes = 0;
  };
  for (const hash of queue) {
    const blob = blobs.get(hash)!;
    if (blob.size > SMALL_FILE) {
      uploads.push({ hashes: [hash], body: blob, size: blob.size });
      continue;
    }
    if (batch.length >= BATCH_FILES || batchBytes + blob.size > BATCH_BYTES) close();
    batch.push(hash);
    batchBytes += blob.size;
  }
  close();
  return uploads;
}

/** Uploads what the farm does not have yet; returns each file's sha256. */
export async function uploadFiles<T extends Blob>(files: T[], setPhase: (phase: UploadPhase) => void, signal: AbortSignal): Promise<Map<T, string>> {
  // 1. hash every file (content addressing: unchanged files are never uploaded twice)
  const hashes = new Map<T, string>();
  const hashTotal = files.reduce((sum, f) => sum + f.size, 0);
  let hashed = 0;
  setPhase({ step: 'hashing', done: 0, total: hashTotal });
  for (const file of files) {
    if (signal.aborted) throw new DOMException('canceled', 'AbortError');
    let last = 0;
    const hash = await sha256File(file, (n) => {
      hashed += n - last;
      last = n;
      setPhase({ step: 'hashing', done: hashed, total: hashTotal });
    });
    hashed += file.size - last;
    hashes.set(file, hash);
  }

  // 2. ask which blobs the coordinator lacks
  setPhase({ step: 'checking' });
  const unique = new Map<string, Blob>();
  for (const file of files) unique.set(hashes.get(file)!, file);
  const all = [...unique.keys()];
  const missing: string[] = [];
  for (let i = 0; i < all.length; i += MISSING_BATCH) {
    const answer = await api<{ missing: string[] }>('blobs/missing', { body: { hashes: all.slice(i, i + MISSING_BATCH) }, signal });
    missing.push(...answer.missing);
  }

  // 3. upload only those, a few at a time, with progress
  const queue = missing.filter((h) => unique.has(h));
  const uploadTotal = queue.reduce((sum, h) => sum + unique.get(h)!.size, 0);
  const uploads = plan(queue, unique);
  const sentPerUpload = new Map<number, number>();
  let filesDone = 0;
  const report = () => {
    let sent = 0;
    for (const v of sentPerUpload.values()) sent += v;
    setPhase({ step: 'uploading', sent, total: uploadTotal, files: queue.length, filesDone });
  };
  report();
  let next = 0;
  const worker = async () => {
    while (next < uploads.length) {
      const index = next++;
      const upload = uploads[index]!;
      // a batch's bytes on the wire include its lines: count only the files' share
      const share = upload.body.size > 0 ? upload.size / upload.body.size : 1;
      const onProgress = (loaded: number) => {
        sentPerUpload.set(index, Math.min(upload.size, Math.round(loaded * share)));
        report();
      };
      if (upload.hashes.length === 1 && upload.body === unique.get(upload.hashes[0]!)) await uploadBlob(upload.hashes[0]!, upload.body, onProgress, signal);
      else await uploadBlob(null, upload.body, onProgress, signal);
      filesDone += upload.hashes.length;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, uploads.length) }, worker));
  return hashes;
}
