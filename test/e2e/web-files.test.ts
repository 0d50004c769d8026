// The web app's file handling, run in real Chromium on its own (no farm): hashing before upload
// (crypto.subtle and the chunked hash-wasm path that plain-http pages and very big files take)
// and a zip project read in the browser (zip.js lists it; the project rules, the limits and the
// stored-entry slicing are Drover's own). web/src/sha256.ts and web/src/project.ts are bundled
// with esbuild as they are and loaded into an empty page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import yazl from 'yazl';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser, launchChromium } from '../helpers/browser.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The same bytes on both sides: byte i of a pattern of length n, made in the page too. */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7 + (i >> 8)) & 255;
  return out;
}

interface ZipItem {
  name: string;
  data?: Buffer;
  compress?: boolean;
  directory?: boolean;
}

function zipOf(items: ZipItem[], zip64 = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const item of items) {
      if (item.directory) zip.addEmptyDirectory(item.name);
      else zip.addBuffer(item.data ?? Buffer.alloc(0), item.name, { compress: item.compress ?? true, forceZip64Format: zip64 });
    }
    // The types ask for a comment; yazl does not.
    zip.end({ forceZip64Format: zip64, comment: '' });
    const parts: Buffer[] = [];
    zip.outputStream.on('data', (d: Buffer) => parts.push(d));
    zip.outputStream.on('end', () => resolve(Buffer.concat(parts)));
    zip.outputStream.on('error', reject);
  });
}

interface Limits {
  maxTotalBytes: number;
  maxRatio: number;
  ratioMinBytes: number;
  maxEntries: number;
}

interface ReadZip {
  error?: string;
  kind?: string;
  source?: string;
  blends?: string[];
  skipped?: { path: string; reason: string }[];
  files?: { path: string; size: number; sha256: string }[];
}

/** The page's window.drover: what the bundle below puts there. */
interface InPage {
  sha256File(file: Blob, onProgress?: (bytes: number) => void): Promise<string>;
  sha256InChunks(file: Blob, onProgress?: (bytes: number) => void, chunkBytes?: number): Promise<string>;
  projectFromZip(zip: File, limits?: Limits): Promise<{ kind: string; source: string; blends: string[]; skipped: { path: string; reason: string }[]; files: { path: string; size: number; open(): Promise<Blob> }[] }>;
}

describe('web app file handling in Chromium', { timeout: 180_000 }, () => {
  let browser: Browser;
  let page: Page;

  before(async () => {
    const bundle = await bundleForBrowser(`import { sha256File, sha256InChunks } from './web/src/sha256.ts';
      import { projectFromZip } from './web/src/project.ts';
      window.drover = { sha256File, sha256InChunks, projectFromZip };`);
    browser = await launchChromium();
    page = await browser.newPage();
    // localhost is a secure context, as the farm's own address is on the machine that runs it:
    // crypto.subtle is there (plain http across a network has none; sha256InChunks is that path).
    await page.route('http://localhost/files', (route) => route.fulfill({ body: '<!doctype html><title>files</title>', contentType: 'text/html' }));
    await page.goto('http://localhost/files');
    await page.addScriptTag({ content: bundle });
  });

  after(async () => {
    await browser?.close();
  });

  /** projectFromZip on these bytes in the page; each file opened and hashed there. */
  const readZip = (zip: Buffer, name: string, limits?: Limits): Promise<ReadZip> =>
    page.evaluate(
      async ({ base64, name, limits }) => {
        const drover = (window as unknown as { drover: InPage }).drover;
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const file = new File([bytes], name);
        try {
          const project = await drover.projectFromZip(file, limits);
          const files = [];
          for (const f of project.files) {
            const blob = await f.open();
            files.push({ path: f.path, size: f.size, sha256: await drover.sha256File(blob) });
          }
          return { kind: project.kind, source: project.source, blends: project.blends, skipped: project.skipped, files };
        } catch (error) {
          return { error: `${(error as Error).name}: ${(error as Error).message}` };
        }
      },
      { base64: zip.toString('base64'), name, limits },
    );

  test('sha256: crypto.subtle and the chunked path give the hash Node gives, at every block and chunk boundary', async () => {
    const sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4095, 4096, 4097, 70_001];
    const results = await page.evaluate(async (sizes) => {
      const drover = (window as unknown as { drover: InPage }).drover;
      const out = [];
      for (const n of sizes) {
        // pattern(n), made here (a named function would not survive the trip into the page).
        const bytes = new Uint8Array(n);
        for (let i = 0; i < n; i++) bytes[i] = (i * 31 + 7 + (i >> 8)) & 255;
        const blob = new Blob([bytes]);
        const progress: number[] = [];
        const chunked = await drover.sha256InChunks(blob, (b) => progress.push(b), 4096);
        out.push({ n, subtle: await drover.sha256File(blob), chunked, progress, hasSubtle: !!globalThis.crypto?.subtle });
      }
      return out;
    }, sizes);
    for (const r of results) {
      const expected = sha(pattern(r.n));
      assert.equal(r.chunked, expected, `chunked hash of ${r.n} bytes`);
      assert.equal(r.hasSubtle, true, 'the page has crypto.subtle');
      assert.equal(r.subtle, expected, `sha256File (crypto.subtle) of ${r.n} bytes`);
      // Progress rises chunk by chunk to the whole size.
      const chunks = Math.ceil(r.n / 4096);
      assert.equal(r.progress.length, chunks, `${chunks} progress reports for ${r.n} bytes`);
      if (chunks > 0) assert.equal(r.progress.at(-1), r.n);
      assert.deepEqual(r.progress, [...r.progress].sort((a, b) => a - b));
    }
  });

  test('a zip64 project: entries listed, project rules applied, each entry unpacked (deflated) or sliced out of the file (stored) to its bytes', async () => {
    const blend = Buffer.from(pattern(300_000));
    const texture = Buffer.from(pattern(5_000).reverse());
    const note = Buffer.from('ünïcode näme\n');
    const items: ZipItem[] = [
      { name: 'shot/', directory: true },
      { name: 'shot/scene.blend', data: blend, compress: true },
      { name: 'shot/textures/checker.png', data: texture, compress: false },
      { name: 'shot/notes/ça.txt', data: note },
      { name: 'shot/scene.blend1', data: blend },
      { name: '__MACOSX/shot/._scene.blend', data: Buffer.from('x') },
      { name: 'shot/.DS_Store', data: Buffer.from('x') },
    ];
    for (const zip64 of [true, false]) {
      const read = await readZip(await zipOf(items, zip64), 'shot.zip');
      assert.equal(read.error, undefined, `zip64=${zip64}: ${read.error}`);
      assert.equal(read.kind, 'zip');
      assert.equal(read.source, 'shot.zip');
      assert.deepEqual(read.blends, ['shot/scene.blend']);
      assert.deepEqual(read.files, [
        { path: 'shot/notes/ça.txt', size: note.length, sha256: sha(note) },
        { path: 'shot/scene.blend', size: blend.length, sha256: sha(blend) },
        { path: 'shot/textures/checker.png', size: texture.length, sha256: sha(texture) },
      ]);
      assert.deepEqual(read.skipped, [
        { path: 'shot/scene.blend1', reason: 'Blender backup file' },
        { path: '__MACOSX/shot/._scene.blend', reason: 'ignored folder' },
        { path: 'shot/.DS_Store', reason: 'ignored system file' },
      ]);
    }
  });

  test('zip limits and damage are refused with a readable message', async () => {
    const roomy: Limits = { maxTotalBytes: 10 ** 9, maxRatio: 500, ratioMinBytes: 1024 ** 2, maxEntries: 1000 };
    const three = await zipOf([
      { name: 'a.blend', data: Buffer.from('a') },
      { name: 'b.txt', data: Buffer.from('b') },
      { name: 'c.txt', data: Buffer.from('c') },
    ]);
    assert.match((await readZip(three, 'three.zip', { ...roomy, maxEntries: 2 })).error ?? '', /^ProjectError: three\.zip has more than 2 entries\.$/);
    assert.equal((await readZip(three, 'three.zip', roomy)).error, undefined);

    const zeros = await zipOf([{ name: 'bomb.blend', data: Buffer.alloc(200_000) }]);
    assert.match((await readZip(zeros, 'bomb.zip', { ...roomy, ratioMinBytes: 1000, maxRatio: 10 })).error ?? '', /^ProjectError: Unsafe zip bomb\.zip: entry "bomb\.blend": it expands \d+x .*more than the 10x allowed/);
    assert.match((await readZip(zeros, 'bomb.zip', { ...roomy, maxTotalBytes: 100_000 })).error ?? '', /^ProjectError: Unsafe zip bomb\.zip: it expands to more than 97\.7 KB/);

    const twice = await zipOf([
      { name: 'scene.blend', data: Buffer.from('one') },
      { name: 'scene.blend', data: Buffer.from('two') },
    ]);
    assert.match((await readZip(twice, 'twice.zip', roomy)).error ?? '', /entry "scene\.blend": it appears twice/);

    const noBlend = await zipOf([{ name: 'readme.txt', data: Buffer.from('hi') }]);
    assert.equal((await readZip(noBlend, 'none.zip', roomy)).error, 'ProjectError: none.zip holds no .blend file.');

    // An entry that says it is smaller than it unpacks to (a zip bomb's trick) is stopped, not held.
    const liar = await zipOf([{ name: 'scene.blend', data: Buffer.from(pattern(100_000)) }]);
    const central = liar.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    liar.writeUInt32LE(10_000, central + 24); // the central directory's uncompressed size
    assert.match((await readZip(liar, 'liar.zip', roomy)).error ?? '', /^ProjectError: entry "scene\.blend" of liar\.zip (expands beyond its declared size|cannot be unpacked: .+)\.$/);

    // bzip2 (12), say: only stored and deflated entries are unpacked in the browser.
    const bzip2 = await zipOf([{ name: 'scene.blend', data: Buffer.from(pattern(1000)) }]);
    bzip2.writeUInt16LE(12, bzip2.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10);
    assert.equal((await readZip(bzip2, 'bzip2.zip', roomy)).error, 'ProjectError: entry "scene.blend" of bzip2.zip uses compression method 12; only stored and deflated entries can be unpacked in the browser.');

    assert.match((await readZip(Buffer.from(pattern(3000)), 'junk.zip', roomy)).error ?? '', /^ProjectError: junk\.zip is not a readable zip \(.+\)\.$/);
    const cut = await zipOf([{ name: 'scene.blend', data: Buffer.from(pattern(50_000)) }]);
    assert.match((await readZip(cut.subarray(0, cut.length - 30), 'cut.zip', roomy)).error ?? '', /^ProjectError: cut\.zip is not a readable zip/);
  });
});
