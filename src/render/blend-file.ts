// Recognise .blend files by their content, not their name. Blender writes three kinds:
//   plain:  "BLENDER" + pointer size ('_' 32-bit, '-' 64-bit) + endianness ('v'/'V') + version "304"
//   gzip:   Blender < 3.0 with "Compress" on (1f 8b), the header inside
//   zstd:   Blender >= 3.0 with "Compress" on (28 b5 2f fd), in zstd's seekable format
// Node 20's zlib has no zstd, so a zstd file is decompressed with the `zstd` program when it is
// installed. Without it the file is accepted on its zstd magic plus the seek-table footer Blender
// always writes, and reported `verified: false`: running Blender on it (scene-info) is then the
// real check, which the CLI does before submitting a render anyway.
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import zlib from 'node:zlib';

export type BlendCompression = 'none' | 'gzip' | 'zstd';

export interface BlendFileCheck {
  isBlend: boolean;
  compression?: BlendCompression;
  /** False only for zstd files accepted without decompressing them (see above). */
  verified: boolean;
  /** "3.04" style version from the header, when it was read. */
  version?: string;
  pointerSize?: 4 | 8;
  /** Why the file is not (or not surely) a .blend. */
  reason?: string;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** Footer magic of zstd's seekable format (the seek table Blender appends), little-endian. */
const ZSTD_SEEKABLE_FOOTER = Buffer.from([0xb1, 0xea, 0x92, 0x8f]);
const HEADER_LENGTH = 12;

/** Parse the 12-byte .blend header, or undefined when `bytes` do not start with one. */
export function parseBlendHeader(bytes: Buffer): { version: string; pointerSize: 4 | 8 } | undefined {
  if (bytes.length < HEADER_LENGTH || bytes.toString('latin1', 0, 7) !== 'BLENDER') return undefined;
  const pointer = bytes.toString('latin1', 7, 8);
  const endian = bytes.toString('latin1', 8, 9);
  const digits = bytes.toString('latin1', 9, 12);
  if ((pointer !== '_' && pointer !== '-') || (endian !== 'v' && endian !== 'V') || !/^\d{3}$/.test(digits)) return undefined;
  return { version: `${digits[0]}.${digits.slice(1)}`, pointerSize: pointer === '_' ? 4 : 8 };
}

export async function isBlendFile(path: string, options: { zstdProgram?: string } = {}): Promise<boolean> {
  return (await checkBlendFile(path, options)).isBlend;
}

export async function checkBlendFile(path: string, options: { zstdProgram?: string } = {}): Promise<BlendFileCheck> {
  const file = await open(path, 'r');
  let head: Buffer;
  let tail: Buffer;
  try {
    const { size } = await file.stat();
    head = Buffer.alloc(Math.min(size, 64 * 1024));
    await file.read(head, 0, head.length, 0);
    tail = Buffer.alloc(Math.min(size, 4));
    await file.read(tail, 0, tail.length, size - tail.length);
  } finally {
    await file.close();
  }

  if (head.subarray(0, 7).toString('latin1') === 'BLENDER') {
    return fromHeader(head, 'none', true);
  }
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) {
    let inflated: Buffer;
    try {
      // A truncated stream is fine: Z_SYNC_FLUSH returns what the first bytes decompress to.
      inflated = zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (err) {
      return { isBlend: false, compression: 'gzip', verified: true, reason: `gzip data is corrupt: ${(err as Error).message}` };
    }
    return fromHeader(inflated, 'gzip', true);
  }
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) {
    const decompressed = await zstdHead(path, options.zstdProgram ?? 'zstd');
    if (decompressed) return fromHeader(decompressed, 'zstd', true);
    if (tail.equals(ZSTD_SEEKABLE_FOOTER)) {
      return {
        isBlend: true,
        compression: 'zstd',
        verified: false,
        reason: 'zstd-compressed; the zstd program is not installed, so only its layout was checked (run Blender on it to be sure)',
      };
    }
    return { isBlend: false, compression: 'zstd', verified: false, reason: 'zstd data without the seek table Blender writes' };
  }
  return { isBlend: false, verified: true, reason: 'no BLENDER header (nor a gzip or zstd compressed one)' };
}

function fromHeader(bytes: Buffer, compression: BlendCompression, verified: boolean): BlendFileCheck {
  const header = parseBlendHeader(bytes);
  if (!header) {
    const what = compression === 'none' ? 'file' : `${compression}-decompressed data`;
    return { isBlend: false, compression, verified, reason: `the ${what} does not start with a valid BLENDER header` };
  }
  return { isBlend: true, compression, verified, ...header };
}

/** The first bytes of a zstd file decompressed by the zstd program; undefined if it is absent or fails. */
function zstdHead(path: string, program: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const child = spawn(program, ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = (value: Buffer | undefined) => {
      if (done) return;
      done = true;
      child.kill('SIGKILL'); // we only need the header, not the whole file
      resolve(value);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= HEADER_LENGTH) finish(Buffer.concat(chunks));
    });
    child.on('error', () => finish(undefined));
    child.on('close', () => finish(length > 0 ? Buffer.concat(chunks) : undefined));
  });
}
