// SHA-256 of files in the browser. crypto.subtle (native, the fastest) is used when the page has it
// (https, localhost) and the file fits in memory at once; on plain http across a studio network it
// does not exist, and a very large file would not fit in memory: those are read in chunks and
// hashed incrementally with hash-wasm (WebAssembly), loaded only then.
const SUBTLE_LIMIT = 256 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256File(file: Blob, onProgress?: (bytes: number) => void): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle && file.size <= SUBTLE_LIMIT) {
    const digest = await subtle.digest('SHA-256', await file.arrayBuffer());
    onProgress?.(file.size);
    return hex(new Uint8Array(digest));
  }
  return sha256InChunks(file, onProgress);
}

/** The hash of `file` read `chunkBytes` at a time: memory stays bounded whatever its size. */
export async function sha256InChunks(file: Blob, onProgress?: (bytes: number) => void, chunkBytes = CHUNK): Promise<string> {
  const { createSHA256 } = await import('hash-wasm');
  const hash = await createSHA256();
  for (let offset = 0; offset < file.size; offset += chunkBytes) {
    hash.update(new Uint8Array(await file.slice(offset, offset + chunkBytes).arrayBuffer()));
    onProgress?.(Math.min(file.size, offset + chunkBytes));
  }
  return hash.digest('hex');
}
