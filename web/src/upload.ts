// Content-addressed upload shared by the new-job forms: hash every file, ask the coordinator which
// blobs it lacks (POST /blobs/missing), PUT only those, a few at a time, with progress.
import { api, uploadBlob } from './api.ts';
import { sha256File } from './sha256.ts';

export type UploadPhase =
  | { step: 'idle' }
  | { step: 'unpacking'; done: number; total: number }
  | { step: 'hashing'; done: number; total: number }
  | { step: 'checking' }
  | { step: 'uploading'; sent: number; total: number; files: number; filesDone: number }
  | { step: 'creating' };

const UPLOAD_CONCURRENCY = 3;
const MISSING_BATCH = 500;

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
  const sentPerFile = new Map<string, number>();
  let filesDone = 0;
  const report = () => {
    let sent = 0;
    for (const v of sentPerFile.values()) sent += v;
    setPhase({ step: 'uploading', sent, total: uploadTotal, files: queue.length, filesDone });
  };
  report();
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const hash = queue[next++]!;
      await uploadBlob(
        hash,
        unique.get(hash)!,
        (loaded) => {
          sentPerFile.set(hash, loaded);
          report();
        },
        signal,
      );
      filesDone++;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, queue.length) }, worker));
  return hashes;
}
