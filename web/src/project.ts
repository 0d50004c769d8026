// A render job's PROJECT as the browser sees it: one .blend file, a folder picked with
// <input webkitdirectory>, or a .zip unpacked here (fflate), entry by entry so only one entry is
// in memory at a time. The same rules as the CLI (src/render/project.ts): backups, VCS folders
// and system files are left out; unsafe zip entries are refused with a readable message.
import { Inflate } from 'fflate';
import { compareNatural } from './format.ts';

export interface ProjectFile {
  /** POSIX path relative to the project root, e.g. "textures/checker.png". */
  path: string;
  size: number;
  /** The bytes: the picked file itself, or (zips) the entry, unpacked when asked for. */
  open(): Promise<Blob>;
}

const picked = (path: string, file: File): ProjectFile => ({ path, size: file.size, open: async () => file });

export interface BrowserProject {
  kind: 'blend' | 'folder' | 'zip';
  /** What the user picked: the file, folder or zip name. */
  source: string;
  /** Sorted by path. */
  files: ProjectFile[];
  /** The .blend files among them, in natural order. */
  blends: string[];
  /** Files left out, and why. */
  skipped: { path: string; reason: string }[];
}

export class ProjectError extends Error {
  override name = 'ProjectError';
}

const IGNORED_DIRS = new Set(['.git', '.svn', '.hg', '__pycache__', '__MACOSX']);
const IGNORED_FILES = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);
/** Blender's backups (scene.blend1, …) and its temporary save file (scene.blend@). */
const BLENDER_BACKUP = /\.blend(\d+|@)$/i;

export const isBlendName = (p: string) => /\.blend$/i.test(p);

/** Why a project file is left out, or undefined to keep it. */
function ignoreReason(path: string): string | undefined {
  const parts = path.split('/');
  const name = parts[parts.length - 1] ?? path;
  if (parts.slice(0, -1).some((p) => IGNORED_DIRS.has(p))) return 'ignored folder';
  if (IGNORED_FILES.has(name)) return 'ignored system file';
  if (BLENDER_BACKUP.test(name)) return 'Blender backup file';
  return undefined;
}

function finish(kind: BrowserProject['kind'], source: string, listed: ProjectFile[], skipped: BrowserProject['skipped']): BrowserProject {
  const files: ProjectFile[] = [];
  for (const file of listed) {
    const reason = ignoreReason(file.path);
    if (reason) skipped.push({ path: file.path, reason });
    else files.push(file);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const blends = files.map((f) => f.path).filter(isBlendName).sort(compareNatural);
  if (blends.length === 0) throw new ProjectError(`${source} holds no .blend file.`);
  return { kind, source, files, blends, skipped };
}

export function projectFromBlend(file: File): BrowserProject {
  if (!isBlendName(file.name)) throw new ProjectError(`${file.name} is not a .blend file.`);
  return finish('blend', file.name, [picked(file.name, file)], []);
}

/**
 * The files of a folder picked with webkitdirectory: their webkitRelativePath starts with the
 * folder's own name, which is not part of the project paths (as with `drover render FOLDER`).
 */
export function projectFromFolder(list: FileList | File[]): BrowserProject {
  const all = Array.from(list);
  if (all.length === 0) throw new ProjectError('The folder is empty.');
  const first = (all[0]!.webkitRelativePath || all[0]!.name).split('/')[0] ?? 'folder';
  const files: ProjectFile[] = [];
  for (const file of all) {
    const rel = file.webkitRelativePath || file.name;
    const parts = rel.split('/');
    files.push(picked(parts.length > 1 ? parts.slice(1).join('/') : rel, file));
  }
  return finish('folder', first, files, []);
}

// ---------------------------------------------------------------------------------------------
// Zips: the central directory is read from the end of the file; each entry is then sliced out of
// the File and inflated on its own. Zip64 is understood; encryption and symlinks are refused.

export interface ZipLimits {
  /** Total uncompressed bytes. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of one entry (deflate manages ~1032 at best). */
  maxRatio: number;
  /** Entries smaller than this are not ratio-checked. */
  ratioMinBytes: number;
  maxEntries: number;
}

export const ZIP_LIMITS: ZipLimits = { maxTotalBytes: 20 * 1024 ** 3, maxRatio: 500, ratioMinBytes: 1024 ** 2, maxEntries: 100_000 };

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  madeBy: number;
  externalAttributes: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function bytesOf(blob: Blob, start: number, end: number): Promise<DataView> {
  return new DataView(await blob.slice(start, end).arrayBuffer());
}

function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x1_0000_0000;
}

async function readCentralDirectory(zip: File, limits: ZipLimits): Promise<ZipEntry[]> {
  const damaged = (why: string) => new ProjectError(`${zip.name} is not a readable zip (${why}).`);
  // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB.
  const tailStart = Math.max(0, zip.size - 22 - 0xffff);
  const tail = await bytesOf(zip, tailStart, zip.size);
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw damaged('no end of central directory');
  let count = tail.getUint16(eocd + 10, true);
  let cdSize = tail.getUint32(eocd + 12, true);
  let cdOffset = tail.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locatorAt = eocd - 20;
    if (locatorAt < 0 || tail.getUint32(locatorAt, true) !== EOCD64_LOCATOR) throw damaged('zip64 locator missing');
    const eocd64Offset = u64(tail, locatorAt + 8);
    const record = await bytesOf(zip, eocd64Offset, eocd64Offset + 56);
    if (record.byteLength < 56 || record.getUint32(0, true) !== EOCD64) throw damaged('zip64 record missing');
    count = u64(record, 32);
    cdSize = u64(record, 40);
    cdOffset = u64(record, 48);
  }
  if (count > limits.maxEntries) throw new ProjectError(`${zip.name} has more than ${limits.maxEntries.toLocaleString('en-US')} entries.`);
  if (cdOffset + cdSize > zip.size) throw damaged('central directory beyond the end of the file');
  const cd = await bytesOf(zip, cdOffset, cdOffset + cdSize);
  const utf8 = new TextDecoder('utf-8');
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.byteLength || cd.getUint32(at, true) !== CENTRAL) throw damaged('bad central directory entry');
    const nameLength = cd.getUint16(at + 28, true);
    const extraLength = cd.getUint16(at + 30, true);
    const commentLength = cd.getUint16(at + 32, true);
    const entry: ZipEntry = {
      madeBy: cd.getUint16(at + 4, true),
      flags: cd.getUint16(at + 8, true),
      method: cd.getUint16(at + 10, true),
      compressedSize: cd.getUint32(at + 20, true),
      size: cd.getUint32(at + 24, true),
      externalAttributes: cd.getUint32(at + 38, true),
      localOffset: cd.getUint32(at + 42, true),
      // Names are UTF-8 (flag 11) or, in old tools, CP437: read both as UTF-8; Windows "\" becomes "/".
      name: utf8.decode(new Uint8Array(cd.buffer, cd.byteOffset + at + 46, nameLength)).replace(/\\/g, '/'),
    };
    // Zip64 extra field: the 64-bit values replace the 0xFFFFFFFF ones, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = cd.getUint16(extra, true);
      const length = cd.getUint16(extra + 2, true);
      if (id === 0x0001) {
        let p = extra + 4;
        if (entry.size === 0xffffffff) (entry.size = u64(cd, p)), (p += 8);
        if (entry.compressedSize === 0xffffffff) (entry.compressedSize = u64(cd, p)), (p += 8);
        if (entry.localOffset === 0xffffffff) entry.localOffset = u64(cd, p);
      }
      extra += 4 + length;
    }
    entries.push(entry);
    at = extraEnd + commentLength;
  }
  return entries;
}

/** Why an entry name is unsafe to unpack, or undefined. */
function unsafeEntryReason(name: string): string | undefined {
  if (name.includes('\0')) return 'the name contains a NUL byte';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute paths are not allowed';
  if (name.split('/').includes('..')) return 'paths containing ".." could write outside the project';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains control characters';
  return undefined;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;

/** The entry's Unix file type, when the zip was made on Unix and says so. */
function unixType(entry: ZipEntry): number | undefined {
  if (entry.madeBy >> 8 !== MADE_BY_UNIX) return undefined;
  const type = (entry.externalAttributes >>> 16) & S_IFMT;
  return type === 0 ? undefined : type;
}

function sizeText(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

const READ_CHUNK = 4 * 1024 * 1024;
const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function extractEntry(zip: File, entry: ZipEntry): Promise<Blob> {
  const local = await bytesOf(zip, entry.localOffset, entry.localOffset + 30);
  if (local.byteLength < 30 || local.getUint32(0, true) !== LOCAL) {
    throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" has no local header.`);
  }
  const dataStart = entry.localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > zip.size) throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" runs past the end of the file.`);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" has inconsistent sizes.`);
    return zip.slice(dataStart, dataEnd); // stored: no copy at all
  }
  if (entry.method !== 8) {
    throw new ProjectError(`entry "${entry.name}" of ${zip.name} uses compression method ${entry.method}; only stored and deflated entries can be unpacked in the browser.`);
  }
  const parts: Uint8Array[] = [];
  let produced = 0;
  const inflate = new Inflate((data) => {
    produced += data.length;
    if (produced > entry.size) throw new ProjectError(`entry "${entry.name}" of ${zip.name} expands beyond its declared size.`);
    parts.push(data);
  });
  for (let offset = dataStart; offset < dataEnd || offset === dataStart; offset += READ_CHUNK) {
    const end = Math.min(dataEnd, offset + READ_CHUNK);
    const chunk = new Uint8Array(await zip.slice(offset, end).arrayBuffer());
    try {
      inflate.push(chunk, end >= dataEnd);
    } catch (error) {
      if (error instanceof ProjectError) throw error;
      throw new ProjectError(`entry "${entry.name}" of ${zip.name} cannot be unpacked: ${(error as Error).message}.`);
    }
    if (end >= dataEnd) break;
    await pause(); // keep the page responsive between chunks
  }
  if (produced !== entry.size) throw new ProjectError(`entry "${entry.name}" of ${zip.name} unpacked to ${produced} bytes, not the ${entry.size} it declares.`);
  return new Blob(parts as BlobPart[]);
}

/**
 * Lists a zip (its central directory only) and refuses unsafe entries; each file is unpacked
 * when its `open()` is called, so picking a big zip is quick and memory stays bounded.
 */
export async function projectFromZip(zip: File, limits: ZipLimits = ZIP_LIMITS): Promise<BrowserProject> {
  const entries = await readCentralDirectory(zip, limits);
  const unsafe = (entry: ZipEntry, why: string) => new ProjectError(`Unsafe zip ${zip.name}: entry "${entry.name}": ${why}.`);
  const skipped: BrowserProject['skipped'] = [];
  const wanted: ZipEntry[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const entry of entries) {
    const why = unsafeEntryReason(entry.name);
    if (why) throw unsafe(entry, why);
    const type = unixType(entry);
    const isDir = entry.name.endsWith('/') || type === S_IFDIR;
    if (type === S_IFLNK) throw unsafe(entry, 'it is a symbolic link, not a file; zip the files themselves');
    if (isDir) continue;
    if (type !== undefined && type !== S_IFREG) throw unsafe(entry, 'it is not a regular file');
    if (entry.name.split('/').includes('') || entry.name.split('/').includes('.')) throw unsafe(entry, 'the path has an empty or "." part');
    const reason = ignoreReason(entry.name);
    if (reason) {
      skipped.push({ path: entry.name, reason });
      continue;
    }
    if (entry.flags & 1) throw unsafe(entry, 'it is encrypted');
    if (seen.has(entry.name)) throw unsafe(entry, 'it appears twice');
    seen.add(entry.name);
    total += entry.size;
    if (total > limits.maxTotalBytes) throw new ProjectError(`Unsafe zip ${zip.name}: it expands to more than ${sizeText(limits.maxTotalBytes)} (a zip bomb?).`);
    const ratio = entry.size / Math.max(entry.compressedSize, 1);
    if (entry.size >= limits.ratioMinBytes && ratio > limits.maxRatio) {
      throw unsafe(entry, `it expands ${Math.round(ratio)}x (${sizeText(entry.compressedSize)} to ${sizeText(entry.size)}), more than the ${limits.maxRatio}x allowed (a zip bomb?)`);
    }
    wanted.push(entry);
  }
  const files = wanted.map((entry): ProjectFile => ({ path: entry.name, size: entry.size, open: () => extractEntry(zip, entry) }));
  return finish('zip', zip.name, files, skipped);
}

/** A .blend, a .zip, or (several files) a folder. */
export function isZipName(name: string): boolean {
  return /\.zip$/i.test(name);
}
