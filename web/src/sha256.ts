// SHA-256 of files in the browser. crypto.subtle (native, the fastest) is used when the page has it
// (https, localhost) and the file fits in memory at once; on plain http across a studio network it
// does not exist, and a very large file would not fit in memory: those are read in chunks and
// hashed incrementally with @noble/hashes.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const SUBTLE_LIMIT = 256 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;

export async function sha256File(file: Blob, onProgress?: (bytes: number) => void): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle && file.size <= SUBTLE_LIMIT) {
    const digest = await subtle.digest('SHA-256', await file.arrayBuffer());
    onProgress?.(file.size);
    return bytesToHex(new Uint8Array(digest));
  }
  return sha256InChunks(file, onProgress);
}

/** The hash of `file` read `chunkBytes` at a time: memory stays bounded whatever its size. */
export async function sha256InChunks(file: Blob, onProgress?: (bytes: number) => void, chunkBytes = CHUNK): Promise<string> {
  const hash = sha256.create();
  for (let offset = 0; offset < file.size; offset += chunkBytes) {
    hash.update(new Uint8Array(await file.slice(offset, offset + chunkBytes).arrayBuffer()));
    onProgress?.(Math.min(file.size, offset + chunkBytes));
  }
  return bytesToHex(hash.digest());
}
