// Where the coordinator keeps its blobs, read from `--blobs`. Pure: the CLI checks the option as it
// is parsed, before (and without) loading the store.

/** Where blobs live: a directory (replicas share it over a network file system) or an S3 bucket. */
export type BlobsLocation = { kind: 'disk'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/** Reads `--blobs`: `s3://bucket/prefix` (the prefix may be empty) or a directory. Errors never
 * repeat the URL, in case someone put credentials into it. */
export function parseBlobsLocation(value: string): BlobsLocation {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(value);
  if (!m) {
    if (/^(s3:|[a-z][a-z0-9+.-]*:\/\/)/i.test(value)) throw new Error('the blob store is a directory or an S3 URL of the form s3://bucket/prefix');
    return { kind: 'disk', dir: value };
  }
  const bucket = m[1]!;
  if (!bucket) throw new Error('the S3 blob store URL names no bucket: use s3://bucket/prefix');
  if (/[@:]/.test(bucket)) throw new Error('the S3 blob store URL carries credentials: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$/.test(bucket)) throw new Error('the S3 blob store URL has an invalid bucket name (3 to 63 letters, digits, dots and hyphens)');
  const prefix = m[2]!.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  if (prefix.split('/').some((s) => s === '.' || s === '..')) throw new Error('the prefix of the S3 blob store URL may not contain "." or ".." segments');
  return { kind: 's3', bucket, prefix };
}
