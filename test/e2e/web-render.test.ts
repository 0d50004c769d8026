// End-to-end test of the web app's render jobs: a tiny real Blender scene submitted as a project
// folder through the form, followed live to Done (frame grid, latest frame, preview video), plus
// the refusals (a fake .blend, unsafe zips) and a zip project unpacked in the browser.
// Screenshots go to .test-output/web/render-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startFarm, type Farm } from '../helpers/farm.js';
import { buildWebApp } from '../helpers/browser.js';
import { makeScene } from '../helpers/scenes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, '.test-output', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface ZipItem {
  name: string;
  data: Buffer;
  /** Unix mode (e.g. 0o120777 for a symlink); the entry is then "made by Unix". */
  mode?: number;
  deflate?: boolean;
}

/** A minimal zip writer that, unlike zip libraries, also writes the unsafe entries we test. */
function writeZip(file: string, items: ZipItem[]): string {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const item of items) {
    const name = Buffer.from(item.name, 'utf8');
    const body = item.deflate ? deflateRawSync(item.data) : item.data;
    const method = item.deflate ? 8 : 0;
    const crc = crc32(item.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(item.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(item.mode === undefined ? 20 : (3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(item.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(item.mode === undefined ? 0 : (item.mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(items.length, 8);
  end.writeUInt16LE(items.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...locals, cd, end]));
  return file;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => statSync(join(dir, p)).isFile())
    .map((p) => p.split('\\').join('/'))
    .sort();
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** Every <img> matched has loaded with real pixels. */
async function loadedImages(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => [...document.querySelectorAll<HTMLImageElement>(sel)].filter((img) => img.complete && img.naturalWidth > 0).length, selector);
}

test('web app: a render job from a project folder, followed to Done with thumbnails, latest frame and preview video', { timeout: 600_000 }, async () => {
  buildWebApp();
  mkdirSync(SHOTS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'drover-web-render-'));
  const project = join(work, 'shot');
  let farm: Farm | undefined;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];
  try {
    // A real scene with a texture beside it (//textures/checker.png); a second .blend in a
    // subfolder makes the form ask which one; a backup file is left out.
    const blend = await makeScene(project, { frames: [1, 4], texture: true });
    mkdirSync(join(project, 'alt'), { recursive: true });
    copyFileSync(blend, join(project, 'alt', 'other.blend'));
    copyFileSync(blend, join(project, 'scene.blend1'));
    const projectFiles = filesUnder(project);
    assert.ok(projectFiles.includes('textures/checker.png'), `the scene has its texture: ${projectFiles.join(', ')}`);
    writeFileSync(join(work, 'fake.blend'), 'this is not a Blender file\n');
    const dotdot = writeZip(join(work, 'dotdot.zip'), [
      { name: 'scene.blend', data: Buffer.from('x') },
      { name: '../evil.sh', data: Buffer.from('echo owned') },
    ]);
    const absolute = writeZip(join(work, 'absolute.zip'), [{ name: '/etc/scene.blend', data: Buffer.from('x') }]);
    const symlink = writeZip(join(work, 'symlink.zip'), [
      { name: 'scene.blend', data: Buffer.from('x') },
      { name: 'textures/link.png', data: Buffer.from('/etc/passwd'), mode: 0o120777 },
    ]);
    // A good zip of the project (deflated), with its files under a top folder as zips often are.
    const goodZip = writeZip(
      join(work, 'shot.zip'),
      projectFiles
        .filter((p) => !p.startsWith('alt/') && !p.endsWith('.blend1'))
        .map((p) => ({ name: `shot/${p}`, data: readFileSync(join(project, p)), deflate: true })),
    );

    farm = await startFarm({ agents: 1 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    await page.goto(farm.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(farm.adminPassword);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('jobs-page').waitFor();

    // ---- the render form
    await page.getByTestId('new-job').click();
    await page.getByTestId('kind-render').click();
    await page.getByTestId('new-render-form').waitFor();
    const form = page.getByTestId('new-render-form');

    // frames are validated as the coordinator does (src/core/frames.ts, bundled)
    await form.getByTestId('frames-input').fill('5-1');
    await page.getByTestId('frames-error').filter({ hasText: 'reversed' }).waitFor();
    await form.getByTestId('frames-input').fill('1-4');
    await form.getByTestId('chunk-input').fill('2');
    await page.getByTestId('frames-error').waitFor({ state: 'detached' });
    await page.getByTestId('task-count').filter({ hasText: /^2$/ }).waitFor();
    assert.equal(await page.getByTestId('frame-count').textContent(), '4 frames');
    await form.getByTestId('chunk-input').fill('1');
    await page.getByTestId('task-count').filter({ hasText: /^4$/ }).waitFor();
    await form.getByTestId('chunk-input').fill('2');
    await page.getByTestId('task-count').filter({ hasText: /^2$/ }).waitFor();

    // unsafe zips are refused with a readable message, before anything is uploaded
    await page.getByTestId('project-file-input').setInputFiles(dotdot);
    await page.getByTestId('project-error').filter({ hasText: '"../evil.sh"' }).waitFor();
    assert.match((await page.getByTestId('project-error').textContent()) ?? '', /"\.\." could write outside the project/);
    await page.getByTestId('project-file-input').setInputFiles(absolute);
    await page.getByTestId('project-error').filter({ hasText: 'absolute paths are not allowed' }).waitFor();
    await page.getByTestId('project-file-input').setInputFiles(symlink);
    await page.getByTestId('project-error').filter({ hasText: 'symbolic link' }).waitFor();

    // a file named .blend that is not one: the coordinator's 400 message is shown
    await page.getByTestId('project-file-input').setInputFiles(join(work, 'fake.blend'));
    await page.getByTestId('project-error').waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('blend-chosen').textContent(), 'fake.blend');
    await form.getByLabel('Job title').fill('fake');
    await page.getByTestId('submit-job').click();
    await page.getByTestId('error').filter({ hasText: 'not a Blender file' }).waitFor({ timeout: 60_000 });
    await shot(page, 'render-0-refused');

    // ---- the project folder: two .blend files, so the form asks which one
    await page.getByTestId('project-folder-input').setInputFiles(project);
    await page.getByTestId('blend-select').waitFor();
    const summary = page.getByTestId('project-summary');
    assert.match((await summary.textContent()) ?? '', /shot/);
    assert.match((await page.getByTestId('project-skipped').textContent()) ?? '', /scene\.blend1 \(Blender backup file\)/);
    await page.getByTestId('submit-job').click();
    await page.getByTestId('error').filter({ hasText: 'choose the one to render' }).waitFor();
    await page.getByTestId('blend-select').selectOption('scene.blend');
    await form.getByLabel('Job title').fill('e2e render from a folder');
    await page.getByTestId('format-select').selectOption('PNG');
    await page.getByTestId('size-s').check();
    assert.equal(await page.getByTestId('start-now').isChecked(), true);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'render-1-new-job');
    await page.getByTestId('submit-job').click();

    // ---- the job page, updating live (no reload) until Done
    await page.waitForURL(/#\/jobs\/[^/?]+/, { timeout: 120_000 });
    await page.getByTestId('job-page').waitFor();
    const jobId = await page.getByTestId('job-page').getAttribute('data-job-id');
    assert.ok(jobId);
    assert.equal(await page.getByTestId('job-name').textContent(), 'e2e render from a folder');
    assert.equal(await page.getByTestId('setting-blend').textContent(), 'scene.blend');
    assert.match((await page.getByTestId('setting-frames').textContent()) ?? '', /^1-4 \(4\)$/);
    await page.getByTestId('frame-grid').waitFor();
    assert.equal(await page.getByTestId('frame-tile').count(), 4, 'one tile per frame, pending ones included');
    // Catch it mid-way when we can (on a fast machine it may already be done).
    await page
      .locator('[data-testid="frame-tile"][data-status="done"]')
      .first()
      .waitFor({ timeout: 300_000 });
    await shot(page, 'render-2-job-running');
    await page.locator('[data-testid="job-status"][data-status="done"]').waitFor({ timeout: 300_000 });
    await page.locator('[data-testid="frame-tile"][data-status="done"]').nth(3).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('frames-progress').getAttribute('data-done'), '4');
    assert.equal(await page.getByTestId('frames-done').textContent(), '4/4 done');

    // the grid filled with thumbnails that really loaded
    await page.waitForFunction(
      () => [...document.querySelectorAll<HTMLImageElement>('[data-testid="frame-thumb"]')].filter((img) => img.complete && img.naturalWidth > 0).length === 4,
      undefined,
      { timeout: 60_000 },
    );
    // the latest frame, large
    await page.getByTestId('viewer-image').waitFor();
    assert.equal(await loadedImages(page, '[data-testid="viewer-image"]'), 1);
    const latest = await page.getByTestId('frame-viewer').getAttribute('data-frame');
    assert.ok(['1', '2', '3', '4'].includes(latest ?? ''), `the viewer shows a frame of the job, not "${latest}"`);

    // the preview video once ffmpeg made it
    await page.locator('[data-testid="preview-panel"]:is([data-preview="ready"], [data-preview="unavailable"], [data-preview="failed"])').waitFor({ timeout: 180_000 });
    assert.equal(await page.getByTestId('preview-panel').getAttribute('data-preview'), 'ready', 'ffmpeg is installed: the preview is made');
    const video = page.getByTestId('preview-video');
    await video.waitFor();
    const src = await video.getAttribute('src');
    assert.ok(src?.endsWith(`/api/v1/jobs/${jobId}/preview.mp4`), `video src ${src}`);
    const mp4 = await page.evaluate(async (url) => {
      const response = await fetch(url);
      return { status: response.status, type: response.headers.get('content-type'), size: (await response.arrayBuffer()).byteLength };
    }, src!);
    assert.equal(mp4.status, 200);
    assert.equal(mp4.type, 'video/mp4');
    assert.ok(mp4.size > 0);
    await page.waitForTimeout(500); // let the last thumbnails paint
    await shot(page, 'render-3-job-done');
    await shot(page, 'render-3-job-done-full', true);

    // ---- clicking a thumbnail shows that frame large; "Follow latest" returns
    await page.locator('[data-testid="frame-tile"][data-frame="2"]').click();
    await page.locator('[data-testid="frame-viewer"][data-frame="2"]').waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]');
      return !!img && img.src.includes('/frames/2/preview') && img.complete && img.naturalWidth > 0;
    });
    assert.match(page.url(), /frame=2/);
    await page.getByTestId('follow-latest').click();
    await page.locator(`[data-testid="frame-viewer"][data-frame="${latest}"]`).waitFor();

    // ---- a phone-sized screen
    const phone = await context.newPage();
    phone.on('pageerror', (error) => pageErrors.push(String(error)));
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${farm.url}/#/jobs/${jobId}`);
    await phone.locator('[data-testid="job-status"][data-status="done"]').waitFor();
    await phone.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid="frame-thumb"]')].filter((i) => i.complete && i.naturalWidth > 0).length === 4);
    await phone.screenshot({ path: join(SHOTS, 'render-4-phone-job.png'), fullPage: true });
    await phone.goto(`${farm.url}/#/jobs/new?kind=render`);
    await phone.getByTestId('new-render-form').waitFor();
    await phone.getByTestId('project-folder-input').setInputFiles(project);
    await phone.getByTestId('blend-select').waitFor();
    await phone.screenshot({ path: join(SHOTS, 'render-5-phone-new.png'), fullPage: true });
    await phone.close();

    // ---- a zip project, unpacked in the browser, submitted without starting
    await page.getByTestId('nav-jobs').click();
    await page.goto(`${farm.url}/#/jobs/new?kind=render`);
    await page.getByTestId('new-render-form').waitFor();
    await page.getByTestId('project-file-input').setInputFiles(goodZip);
    await page.getByTestId('blend-chosen').filter({ hasText: 'shot/scene.blend' }).waitFor();
    assert.match((await page.getByTestId('project-summary').textContent()) ?? '', /2 files/);
    await form.getByTestId('frames-input').fill('1-4:3');
    await form.getByTestId('chunk-input').fill('2');
    await page.getByTestId('task-count').filter({ hasText: /^1$/ }).waitFor();
    await page.getByTestId('start-now').uncheck();
    await page.getByTestId('submit-job').click();
    await page.waitForURL(/#\/jobs\/[^/?]+/, { timeout: 120_000 });
    await page.locator('[data-testid="job-status"][data-status="created"]').waitFor();
    assert.equal(await page.getByTestId('setting-blend').textContent(), 'shot/scene.blend');
    assert.match((await page.getByTestId('setting-frames').textContent()) ?? '', /\(2\)$/);
    await page.getByTestId('frame-grid').waitFor();
    assert.equal(await page.getByTestId('frame-tile').count(), 2);

    // ---- a 10,000-frame job (not started: nothing renders) pages its grid, 500 frames a page
    const token = await farm.adminToken();
    const blendSha = createHash('sha256').update(readFileSync(blend)).digest('hex');
    const big = await fetch(`${farm.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'render', name: 'ten thousand frames', project: { files: [{ path: 'scene.blend', sha256: blendSha }], blend: 'scene.blend' }, frames: '1-10000', chunk: 10 }),
    });
    assert.equal(big.status, 201, await big.clone().text());
    const bigId = ((await big.json()) as { id: string }).id;
    await page.goto(`${farm.url}/#/jobs/${bigId}`);
    await page.getByTestId('frame-grid').waitFor();
    assert.equal(await page.getByTestId('frame-tile').count(), 500);
    assert.match((await page.getByTestId('frame-pager').textContent()) ?? '', /1–500 of 10,000/);
    await page.getByTestId('frame-pager').getByLabel('Last page').click();
    await page
      .locator('[data-testid="frame-tile"][data-frame="10000"]')
      .waitFor()
      .catch(async (err: Error) => {
        // Timed out once in CI (2026-12-04), in none of 12 runs beside it: say what the page showed.
        await shot(page, 'render-6-big-job-failed').catch(() => {});
        const seen = `URL ${page.url()}; pager "${await page.getByTestId('frame-pager').textContent().catch(() => '?')}"; ${await page.getByTestId('frame-tile').count()} tiles; error banner "${await page.getByTestId('error').allTextContents()}"`;
        throw new Error(`the last frame page did not show after a click on "Last page" (${seen}): ${err.message}`);
      });
    assert.match(page.url(), /fo=9500/);
    await shot(page, 'render-6-big-job');

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  } finally {
    await browser?.close().catch(() => {});
    await farm?.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
});
