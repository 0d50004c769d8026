// A render job's PROJECT as the browser sees it: one .blend file, a folder picked with
// <input webkitdirectory>, or a .zip unpacked here (zip.js), entry by entry so only one entry is
// in memory at a time. The same rules as the CLI (src/render/project.ts): backups, VCS folders
// and system files are left out; unsafe zip entries are refused with a readable message.
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
// Zips: zip.js reads the central directory from the end of the File (zip64 included) without
// loading the rest; each entry is then unpacked on its own when asked for. zip.js is imported only
// when a zip is picked, so the page's own bundle does not carry it. Its own name checks are off
// ("tolerant"): the checks below give the readable messages the CLI gives.

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

type ZipJs = typeof import('@zip.js/zip.js/lib/zip-core-custom.js');
type ZipJsEntry = Awaited<ReturnType<InstanceType<ZipJs['ZipReader']>['getEntries']>>[number];

interface ZipEntry {
  name: string;
  encrypted: boolean;
  compressedSize: number;
  size: number;
  madeBy: number;
  externalAttributes: number;
  source: ZipJsEntry;
}

/**
 * Read as the hand-made reader before it did: what zip.js would refuse or warn about (odd names,
 * local headers that disagree with the directory) is left to the checks below; no workers.
 */
const ZIP_READ_OPTIONS = { strictness: 'tolerant', filenameValidation: 'tolerant', useWebWorkers: false } as const;

async function readCentralDirectory(zip: File, limits: ZipLimits): Promise<ZipEntry[]> {
  const { ZipReader, BlobReader } = await import('@zip.js/zip.js/lib/zip-core-custom.js');
  const utf8 = new TextDecoder('utf-8');
  const listed: ZipJsEntry[] = [];
  try {
    // One by one, so a zip of a million entries is refused without listing them all.
    for await (const entry of new ZipReader(new BlobReader(zip), ZIP_READ_OPTIONS).getEntriesGenerator()) {
      if (listed.length === limits.maxEntries) throw new ProjectError(`${zip.name} has more than ${limits.maxEntries.toLocaleString('en-US')} entries.`);
      listed.push(entry);
    }
  } catch (error) {
    if (error instanceof ProjectError) throw error;
    throw new ProjectError(`${zip.name} is not a readable zip (${String((error as Error).message ?? error).toLowerCase()}).`);
  }
  return listed.map((entry) => ({
    // Names are UTF-8 (flag 11) or, in old tools, CP437: both are read as UTF-8;
    // Windows "\\" becomes "/".
    name: utf8.decode(entry.rawFilename).replace(/\\/g, '/'),
    encrypted: entry.encrypted,
    compressedSize: entry.compressedSize,
    size: entry.uncompressedSize,
    madeBy: entry.versionMadeBy,
    externalAttributes: entry.externalFileAttributes,
    source: entry,
  }));
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

const STORED = 0;
const DEFLATED = 8;
const LOCAL_HEADER = 0x04034b50;

/**
 * A stored (uncompressed) entry is a slice of the File itself: no copy at all, where zip.js would
 * copy it through memory (a stored multi-GB .blend is common: .blend files compress poorly). Its
 * data starts after the 30-byte local header and the name and extra field that header counts.
 */
async function storedEntry(zip: File, entry: ZipEntry): Promise<Blob> {
  const offset = entry.source.offset;
  const local = new DataView(await zip.slice(offset, offset + 30).arrayBuffer());
  if (local.byteLength < 30 || local.getUint32(0, true) !== LOCAL_HEADER) {
    throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" has no local header.`);
  }
  const dataStart = offset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > zip.size) throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" runs past the end of the file.`);
  if (entry.compressedSize !== entry.size) throw new ProjectError(`${zip.name} is damaged: entry "${entry.name}" has inconsistent sizes.`);
  return zip.slice(dataStart, dataEnd);
}

/**
 * Unpacks one entry. The bytes are counted as they come: an entry that expands beyond the size it
 * declares (a zip bomb's trick) is stopped there, not held in memory whole.
 */
async function extractEntry(zip: File, entry: ZipEntry): Promise<Blob> {
  const source = entry.source;
  if (source.directory) throw new ProjectError(`entry "${entry.name}" of ${zip.name} is a folder.`);
  if (source.compressionMethod === STORED) return storedEntry(zip, entry);
  if (source.compressionMethod !== DEFLATED) {
    throw new ProjectError(`entry "${entry.name}" of ${zip.name} uses compression method ${source.compressionMethod}; only stored and deflated entries can be unpacked in the browser.`);
  }
  const parts: Uint8Array[] = [];
  let produced = 0;
  const sink = new WritableStream<Uint8Array>({
    write(data) {
      produced += data.length;
      if (produced > entry.size) throw new ProjectError(`entry "${entry.name}" of ${zip.name} expands beyond its declared size.`);
      parts.push(data);
    },
  });
  try {
    await source.getData(sink, ZIP_READ_OPTIONS);
  } catch (error) {
    if (error instanceof ProjectError) throw error;
    throw new ProjectError(`entry "${entry.name}" of ${zip.name} cannot be unpacked: ${String((error as Error).message ?? error)}.`);
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
    if (entry.encrypted) throw unsafe(entry, 'it is encrypted');
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
