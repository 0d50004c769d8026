import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BLOB_BATCH_MAX_FILES, blobBatchHead, parseBlobBatch } from './blob-batch.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const batch = (...files: Buffer[]) => Buffer.concat(files.flatMap((f) => [Buffer.from(blobBatchHead(sha(f), f.length)), f]));

test('a batch is read back file by file, empty files and newlines inside files included', () => {
  const files = [Buffer.from('one\n'), Buffer.alloc(0), Buffer.from('two\nlines\n'), Buffer.from([0, 10, 255])];
  const parsed = parseBlobBatch(batch(...files));
  assert.ok('records' in parsed);
  assert.deepEqual(
    parsed.records.map((r) => [r.sha256, Buffer.from(r.bytes).toString('hex')]),
    files.map((f) => [sha(f), f.toString('hex')]),
  );
});

test('a malformed batch is refused with the number of the file at fault', () => {
  const good = batch(Buffer.from('fine'));
  assert.match((parseBlobBatch(Buffer.alloc(0)) as { error: string }).error, /no file/);
  assert.match((parseBlobBatch(Buffer.concat([good, Buffer.from('nothex 3\nabc')])) as { error: string }).error, /file 2 of the batch: expected a line/);
  assert.match((parseBlobBatch(Buffer.concat([good, Buffer.from(`${'a'.repeat(64)} 10\nabc`)])) as { error: string }).error, /file 2 of the batch is cut short: 10 bytes announced, 3 sent/);
  assert.match((parseBlobBatch(Buffer.from('x'.repeat(200))) as { error: string }).error, /file 1 of the batch has no/);
  const tooMany = Buffer.concat(Array.from({ length: BLOB_BATCH_MAX_FILES + 1 }, () => Buffer.from(`${'b'.repeat(64)} 0\n`)));
  assert.match((parseBlobBatch(tooMany) as { error: string }).error, /at most 10000 files/);
});
