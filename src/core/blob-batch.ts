// Many small files in one upload (POST /blobs/batch): each file is a line "<sha256> <size>\n"
// followed by exactly <size> bytes, one after another. Shared by the coordinator (parse) and the
// web app (write) so both speak the same format. Pure: no I/O.

export const BLOB_BATCH_TYPE = 'application/x-drover-blob-batch';
/** The largest batch the coordinator takes; clients send bigger files one by one (PUT /blobs/:sha256). */
export const BLOB_BATCH_MAX_BYTES = 64 * 1024 * 1024;
/** At most this many files per batch. */
export const BLOB_BATCH_MAX_FILES = 10_000;

export interface BlobBatchRecord {
  index: number;
  sha256: string;
  bytes: Uint8Array;
}

const HEAD = /^([0-9a-f]{64}) (\d{1,12})$/;

/** The records of a batch, or why it is malformed (a person-readable sentence). */
export function parseBlobBatch(body: Uint8Array): { records: BlobBatchRecord[] } | { error: string } {
  const records: BlobBatchRecord[] = [];
  let at = 0;
  while (at < body.length) {
    if (records.length >= BLOB_BATCH_MAX_FILES) return { error: `a batch holds at most ${BLOB_BATCH_MAX_FILES} files` };
    const newline = body.indexOf(0x0a, at);
    if (newline === -1 || newline - at > 80) return { error: `file ${records.length + 1} of the batch has no "<sha256> <size>" line` };
    const head = HEAD.exec(new TextDecoder().decode(body.subarray(at, newline)));
    if (!head) return { error: `file ${records.length + 1} of the batch: expected a line "<sha256> <size>" (lowercase hex, bytes)` };
    const size = Number(head[2]);
    const start = newline + 1;
    if (start + size > body.length) return { error: `file ${records.length + 1} of the batch is cut short: ${size} bytes announced, ${body.length - start} sent` };
    records.push({ index: records.length, sha256: head[1]!, bytes: body.subarray(start, start + size) });
    at = start + size;
  }
  if (records.length === 0) return { error: 'the batch holds no file' };
  return { records };
}

/** The head line of one file of a batch (the web app writes the batch as a Blob of these and the files). */
export function blobBatchHead(sha256: string, size: number): string {
  return `${sha256} ${size}\n`;
}
