// End-to-end test of the web app's live views and forms on a real farm (a coordinator, then two
// one-slot agents) in Chromium, at 1440×900 and on a 390×844 phone: each check is a defect people
// met (issue 22) — the latest-frame viewer, the workers' slots, the task drawer's attempts and
// log, the forms' messages, the phone's tabs — plus the visual check of every page. Screenshots
// go to .test-output/web/live-*.png; DROVER_UPDATE_DOCS_SCREENSHOT=1 also writes the README's
// docs/img/job-page.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startAgent, startFarm, type Farm } from '../helpers/farm.js';
import { makeScene } from '../helpers/scenes.js';
import { buildWebApp, DESKTOP, inViewport, launchChromium, layoutProblems, PHONE, ROOT, SHOTS, signIn } from '../helpers/browser.js';

const FAILING = '#!/bin/sh\necho "attempt $DROVER_ATTEMPT of $(basename "$1")"\nexit 1\n';
const OK_SCRIPT = '#!/bin/sh\necho "read $1"\n';

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `live-${name}.png`), fullPage });
}

/** Screenshot and visual check of what the page shows now. */
async function checkLayout(page: Page, name: string): Promise<void> {
  await shot(page, name, true);
  assert.deepEqual(await layoutProblems(page), [], `layout of ${name}`);
}

/** The viewer's image: drawn wholly inside its stage, in its own shape, never enlarged. */
async function viewerFit(page: Page) {
  return page.evaluate(() => {
    const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]')!;
    const stage = document.querySelector('[data-testid="viewer-stage"]')!.getBoundingClientRect();
    const r = img.getBoundingClientRect();
    return {
      inside: r.left >= stage.left - 0.5 && r.top >= stage.top - 0.5 && r.right <= stage.right + 0.5 && r.bottom <= stage.bottom + 0.5,
      shapeError: Math.abs(r.width / r.height - img.naturalWidth / img.naturalHeight) / (img.naturalWidth / img.naturalHeight),
      scale: r.width / img.naturalWidth,
      natural: [img.naturalWidth, img.naturalHeight],
      drawn: [Math.round(r.width), Math.round(r.height)],
      src: img.src,
    };
  });
}

test('web app: live views that are right (viewer, workers, task drawer) and forms that say what is wrong, at 1440×900 and 390×844', { timeout: 600_000 }, async () => {
  buildWebApp();
  mkdirSync(SHOTS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'drover-web-live-'));
  let farm: Farm | undefined;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];
  try {
    // A 4:3 scene of 640×480: wider than the viewer is tall at 1440×900, so cropping shows.
    const project = join(work, 'shot');
    await makeScene(project, { frames: [1, 10], resolution: [640, 480], samples: 2 });
    const packed = await makeScene(join(work, 'packed'), { frames: [5, 9], resolution: [320, 240], samples: 3, fileFormat: 'TIFF', compress: true });
    writeFileSync(join(work, 'fake.blend'), 'not a Blender file\n');
    writeFileSync(join(work, 'fail.sh'), FAILING);
    writeFileSync(join(work, 'ok.sh'), OK_SCRIPT);
    mkdirSync(join(work, 'data'));
    for (let i = 1; i <= 12; i++) writeFileSync(join(work, 'data', `item_${i}.txt`), `${i}\n`);
    writeFileSync(join(work, 'one.txt'), 'one\n');
    copyFileSync(join(work, 'ok.sh'), join(work, 'item_1.txt')); // a script named like a data file

    farm = await startFarm({ agents: 0 });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await signIn(page, farm.url, 'admin', farm.adminPassword);

    // ---- Workers before any agent joined: the command shown is the CLI's own (--server)
    await page.getByTestId('nav-workers').click();
    const empty = page.getByTestId('empty');
    await empty.waitFor();
    const emptyText = (await empty.textContent()) ?? '';
    assert.match(emptyText, new RegExp(`drover agent --server ${farm.url.replace(/[.]/g, '\\.')} --token`));
    assert.doesNotMatch(emptyText, /--coordinator/);
    await checkLayout(page, 'workers-empty');

    for (const name of ['agent-1', 'agent-2']) farm.agents.push(await startAgent(farm.server, { name, slots: 1 }));
    await page.locator('[data-testid="worker-row"][data-status="online"]').nth(1).waitFor();
    // Slots are what jobs ask for: said in the header and the first number of each row.
    assert.match((await page.locator('.page-sub').textContent()) ?? '', /2 of 2 agents online · 0 of 2 task slots busy/);
    assert.deepEqual(await page.getByTestId('worker-slots').evaluateAll((els) => els.map((e) => e.getAttribute('data-slots'))), ['1', '1']);

    // ---- the script form: messages that are seen, current and said once
    await page.goto(`${farm.url}/#/jobs/new`);
    await page.getByTestId('new-job-form').waitFor();
    await page.getByTestId('submit-job').click();
    await page.getByTestId('error').filter({ hasText: 'Give the job a title.' }).waitFor();
    await page.getByLabel('Job title').fill('fails on purpose');
    await page.getByTestId('error').waitFor({ state: 'detached' }); // typing a title makes it stale
    await page.getByLabel('Data files').setInputFiles(Array.from({ length: 12 }, (_, i) => join(work, 'data', `item_${i + 1}.txt`)));
    await page.getByTestId('data-input-list').waitFor();
    // no "No file chosen" beside the 12 listed files: the native input is not drawn, its button says what it adds
    const nativeInput = await page.getByTestId('data-input').evaluate((el) => ({ width: el.getBoundingClientRect().width, opacity: getComputedStyle(el).opacity }));
    assert.ok(nativeInput.width <= 1 && nativeInput.opacity === '0', `the native file input is not drawn: ${JSON.stringify(nativeInput)}`);
    assert.equal(await page.getByTestId('data-input-button').textContent(), 'Add more files…');
    assert.equal(await page.getByTestId('data-input-list').locator('.file-name').count(), 12);
    // a script named like a data file: said once, also after Submit
    await page.getByLabel('Script file').setInputFiles(join(work, 'item_1.txt'));
    const clash = page.getByTestId('name-clash');
    await clash.waitFor();
    const clashText = ((await clash.textContent()) ?? '').trim();
    await page.getByTestId('submit-job').click();
    assert.equal(await page.getByText(clashText, { exact: true }).count(), 1, 'the name clash is said once');
    assert.equal(await page.getByTestId('error').count(), 0);
    await page.getByLabel('Script file').setInputFiles(join(work, 'ok.sh'));
    await clash.waitFor({ state: 'detached' });
    // max attempts 0, Submit at the bottom: the message comes into view
    await page.locator('details.advanced summary').click();
    await page.locator('input[name="maxAttempts"]').fill('0');
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.getByTestId('submit-job').click();
    await page.getByTestId('error').filter({ hasText: 'Max attempts must be between 1 and 20.' }).waitFor();
    assert.equal(await inViewport(page, '[data-testid="error"]'), true, 'the form error is in view after Submit at the bottom');
    await checkLayout(page, 'new-job-errors');

    // ---- 2,000 small data files: uploaded in a few requests, not one each
    mkdirSync(join(work, 'many'));
    const many = Array.from({ length: 2000 }, (_, i) => {
      const file = join(work, 'many', `part_${i + 1}.txt`);
      writeFileSync(file, `part ${i + 1} ${'x'.repeat(i % 300)}\n`);
      return file;
    });
    await page.goto(`${farm.url}/#/jobs`);
    await page.getByTestId('new-job').click(); // a fresh form
    await page.getByLabel('Job title').fill('two thousand inputs');
    await page.getByLabel('Script file').setInputFiles(join(work, 'ok.sh'));
    await page.getByLabel('Data files').setInputFiles(many);
    await page.getByTestId('task-count').filter({ hasText: /^2,000$/ }).waitFor();
    await page.getByTestId('start-now').uncheck();
    const uploads: string[] = [];
    const countUploads = (r: { method(): string; url(): string }) => {
      if (/\/api\/v1\/blobs\/(?!missing)/.test(r.url()) && r.method() !== 'GET') uploads.push(`${r.method()} ${r.url().replace(/.*\/blobs\//, '')}`);
    };
    page.on('request', countUploads);
    const uploadStart = Date.now();
    await page.getByTestId('submit-job').click();
    await page.waitForURL(/#\/jobs\/(?!new)[^/?]+$/, { timeout: 120_000 });
    const uploadSeconds = (Date.now() - uploadStart) / 1000;
    page.off('request', countUploads);
    await page.locator('[data-testid="job-status"][data-status="created"]').waitFor();
    assert.ok(uploads.length >= 1 && uploads.length <= 5, `2,000 small files in a few requests: ${uploads.length} (${uploads.slice(0, 3).join(', ')}…)`);
    assert.ok(uploads.every((u) => u === 'POST batch'), `small files go in batches: ${uploads.join(', ')}`);
    console.log(`# 2,000 small files (${uploads.length} upload requests): submitted in ${uploadSeconds.toFixed(1)} s`);
    // a batch whose file does not hash to its line: refused, nothing stored
    const token = await farm.adminToken();
    const good = Buffer.from('stored only with the rest\n');
    const goodSha = createHash('sha256').update(good).digest('hex');
    const badSha = createHash('sha256').update('something else').digest('hex');
    const refused = await fetch(`${farm.url}/api/v1/blobs/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-drover-blob-batch' },
      body: Buffer.concat([Buffer.from(`${goodSha} ${good.length}\n`), good, Buffer.from(`${badSha} 3\n`), Buffer.from('abc')]),
    });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /file 2 of the batch hashes to .*nothing was stored/);
    const missing = await fetch(`${farm.url}/api/v1/blobs/missing`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hashes: [goodSha] }),
    });
    assert.deepEqual(((await missing.json()) as { missing: string[] }).missing, [goodSha]);

    // ---- a task failing on purpose, retried twice: attempts count per round; "Latest" is one attempt's log
    const failing = await farm.cli(['job', 'create', '-n', 'fails on purpose', '-s', join(work, 'fail.sh'), '-i', join(work, 'one.txt'), '--max-attempts', '1', '-r', '--json']);
    assert.equal(failing.code, 0, failing.stderr);
    const failingId = (JSON.parse(failing.stdout) as { id: string }).id;
    await page.goto(`${farm.url}/#/jobs/${failingId}`);
    await page.locator('[data-testid="job-status"][data-status="error"]').waitFor({ timeout: 60_000 });
    for (const total of [2, 3]) {
      await page.getByTestId('job-retry').click();
      await page.locator(`[data-testid="task-attempts"][title^="${total} attempts in all"]`).waitFor({ timeout: 60_000 });
      await page.locator('[data-testid="task-row"][data-status="error"]').waitFor({ timeout: 60_000 });
      await page.locator('[data-testid="job-status"][data-status="error"]').waitFor({ timeout: 60_000 });
    }
    // a retry starts the count again: 1/1, with the 3 attempts in all said in its title
    await page.locator('[data-testid="task-attempts"][title^="3 attempts in all"]', { hasText: /^1\/1$/ }).waitFor();
    await page.getByTestId('task-row').first().click();
    await page.getByTestId('task-panel').waitFor();
    await page.getByTestId('task-panel-attempts').filter({ hasText: '1/1 (3 in all)' }).waitFor();
    await page.getByTestId('task-log').filter({ hasText: 'attempt 3 of one.txt' }).waitFor();
    const latestLog = (await page.getByTestId('task-log').textContent()) ?? '';
    assert.doesNotMatch(latestLog, /attempt [12] of/, `"Latest" shows the latest attempt only:\n${latestLog}`);
    await page.getByTestId('attempt-chip').first().click();
    await page.getByTestId('task-log').filter({ hasText: 'attempt 1 of one.txt' }).waitFor();
    assert.doesNotMatch((await page.getByTestId('task-log').textContent()) ?? '', /attempt [23] of/);
    await checkLayout(page, 'task-drawer');
    await page.getByTestId('task-close').click();

    // ---- a job no agent can run: no ETA is coming, and the slots say why
    const big = await farm.cli(['job', 'create', '-n', 'too big', '-s', join(work, 'ok.sh'), '-i', join(work, 'one.txt'), '-t', 'xl', '-r', '--json']);
    assert.equal(big.code, 0, big.stderr);
    const bigId = (JSON.parse(big.stdout) as { id: string }).id;
    await page.goto(`${farm.url}/#/jobs/${bigId}`);
    await page.getByTestId('job-unschedulable').filter({ hasText: 'offers 1' }).waitFor();
    assert.equal(await page.getByTestId('job-eta').textContent(), 'none: cannot be scheduled');
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('job-stop').click();
    await page.locator('[data-testid="job-status"][data-status="canceled"]').waitFor();

    // ---- a render through the form, followed live
    await page.goto(`${farm.url}/#/jobs/new?kind=render`);
    await page.getByTestId('new-render-form').waitFor();
    // the frame range comes from the .blend, read in the browser: zstd-compressed, plain, or not a .blend at all
    await page.getByTestId('project-file-input').setInputFiles(packed);
    await page.locator('[data-testid="scene-hint"][data-state="read"]').waitFor();
    const framesFilled = (value: string) =>
      page.waitForFunction((v) => document.querySelector<HTMLInputElement>('[data-testid="frames-input"]')?.value === v, value, { timeout: 10_000 });
    await framesFilled('5-9');
    assert.match((await page.getByTestId('scene-hint').textContent()) ?? '', /From scene “Main”: frames 5-9 at 24 fps, 320 × 240, TIFF, CYCLES 3 samples/);
    await page.getByTestId('project-file-input').setInputFiles(join(work, 'fake.blend'));
    await page.locator('[data-testid="scene-hint"][data-state="failed"]').filter({ hasText: 'give the frames' }).waitFor();
    await page.getByTestId('project-folder-input').setInputFiles(project);
    await page.getByTestId('blend-chosen').waitFor();
    await page.locator('[data-testid="scene-hint"][data-state="read"]').waitFor();
    await framesFilled('1-10'); // the scene's range replaces the one filled from the other file
    assert.equal(await page.locator('select[name="format"] option[value=""]').textContent(), 'As saved (PNG)');
    await page.getByTestId('chunk-input').fill('1');
    await page.getByLabel('Job title').fill('live render');
    await page.getByTestId('submit-job').click();
    await page.waitForURL(/#\/jobs\/(?!new)[^/?]+$/, { timeout: 120_000 });
    await page.getByTestId('job-page').waitFor();
    const renderId = (await page.getByTestId('job-page').getAttribute('data-job-id'))!;
    // the settings the job did not override are the scene's, not "as saved"
    assert.equal(await page.getByTestId('setting-format').textContent(), 'PNG (scene)');
    assert.equal(await page.getByTestId('setting-resolution').textContent(), '640 × 480 (scene)');
    assert.equal(await page.getByTestId('setting-samples').textContent(), '2 (scene)');
    // While following the latest frame, the viewer never says a frame the job counts done is running.
    await page.evaluate(() => {
      const w = window as unknown as { viewerSaw: string[]; framesSeen: Set<string> };
      w.viewerSaw = [];
      w.framesSeen = new Set();
      const look = () => {
        const viewer = document.querySelector('[data-testid="frame-viewer"]');
        if (!viewer) return;
        const text = viewer.querySelector('.viewer-stage')?.textContent ?? '';
        if (/Frame \d+ is/.test(text)) w.viewerSaw.push(`${text} (frames done: ${document.querySelector('[data-testid="frames-done"]')?.textContent})`);
        if (viewer.querySelector('[data-testid="viewer-image"]')) w.framesSeen.add(viewer.getAttribute('data-frame') ?? '');
      };
      new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    // Meanwhile the workers page never shows more busy slots than an agent has.
    const workers = await context.newPage();
    await workers.goto(`${farm.url}/#/workers`);
    await workers.getByTestId('worker-row').nth(1).waitFor();
    await workers.evaluate(() => {
      const w = window as unknown as { overSlots: string[]; busySeen: number };
      w.overSlots = [];
      w.busySeen = 0;
      new MutationObserver(() => {
        for (const cell of document.querySelectorAll('[data-testid="worker-slots"]')) {
          const busy = Number(cell.getAttribute('data-busy'));
          w.busySeen = Math.max(w.busySeen, busy);
          if (busy > Number(cell.getAttribute('data-slots')) || /^(\d+)\/(\d+)$/.test(cell.textContent ?? '') && Number(RegExp.$1) > Number(RegExp.$2)) w.overSlots.push(cell.textContent ?? '');
        }
        const header = document.querySelector('.page-sub')?.textContent ?? '';
        const m = /(\d+) of (\d+) task slots? busy/.exec(header);
        if (m && Number(m[1]) > Number(m[2])) w.overSlots.push(header);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.locator('[data-testid="job-status"][data-status="done"]').waitFor({ timeout: 300_000 });
    await checkLayout(workers, 'workers');
    const workersSaw = await workers.evaluate(() => {
      const w = window as unknown as { overSlots: string[]; busySeen: number };
      return { overSlots: w.overSlots, busySeen: w.busySeen };
    });
    assert.deepEqual(workersSaw.overSlots, [], 'no agent shows more busy slots than it has');
    assert.ok(workersSaw.busySeen >= 1, 'the workers page saw the agents busy');
    await workers.close();
    const viewerSaw = await page.evaluate(() => {
      const w = window as unknown as { viewerSaw: string[]; framesSeen: Set<string> };
      return { saw: w.viewerSaw, frames: [...w.framesSeen] };
    });
    assert.deepEqual(viewerSaw.saw, [], 'following the latest frame never shows a finished frame as running');
    assert.ok(viewerSaw.frames.length >= 1, 'the viewer showed frames as they came');

    // ---- the viewer: the whole frame, in its shape, never enlarged; 1:1 and the arrow keys
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    let fit = await viewerFit(page);
    assert.ok(fit.inside, `the frame is not cut: ${JSON.stringify(fit)}`);
    assert.ok(fit.shapeError < 0.02, `the frame keeps its shape: ${JSON.stringify(fit)}`);
    assert.ok(fit.scale <= 1.001, `the frame is not enlarged (blurry): ${JSON.stringify(fit)}`);
    assert.deepEqual(fit.natural, [640, 480], 'the viewer shows the frame at its size, not the 320 px thumbnail');
    const latest = Number(await page.getByTestId('frame-viewer').getAttribute('data-frame'));
    // the arrows step through the finished frames of the grid: wait for it to have them all
    await page.locator('[data-testid="frame-tile"][data-status="done"]').nth(9).waitFor();
    await page.keyboard.press('ArrowLeft');
    await page.locator(`[data-testid="frame-viewer"][data-frame="${latest - 1}"]`).waitFor();
    assert.match(page.url(), new RegExp(`frame=${latest - 1}`));
    await page.keyboard.press('ArrowRight');
    await page.locator(`[data-testid="frame-viewer"][data-frame="${latest}"]`).waitFor();
    await page.keyboard.press('z');
    await page.locator('[data-testid="frame-viewer"][data-zoom="1:1"]').waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]');
      return !!img && img.src.includes('/image') && img.complete && img.naturalWidth > 0;
    });
    fit = await viewerFit(page);
    assert.equal(fit.scale, 1, `1:1 shows the frame's own pixels: ${JSON.stringify(fit)}`);
    await page.getByTestId('viewer-zoom').click();
    await page.locator('[data-testid="frame-viewer"][data-zoom="fit"]').waitFor();
    await page.getByTestId('follow-latest').click();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid="frame-thumb"]')].every((i) => i.complete && i.naturalWidth > 0));
    await checkLayout(page, 'render-job');
    await page.screenshot({ path: join(SHOTS, 'live-render-job-top.png') });
    if (process.env.DROVER_UPDATE_DOCS_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs', 'img'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'docs', 'img', 'job-page.png') });
    }

    // ---- a frame wider than the preview: a 2x screen gets the full frame, a 1x screen the preview
    const wide = join(work, 'wide');
    await makeScene(wide, { frames: [1, 1], resolution: [1600, 1200], samples: 1 });
    const wideJob = await farm.cli(['render', wide, '--frames', '1', '--json']);
    assert.equal(wideJob.code, 0, wideJob.stderr);
    const wideId = (JSON.parse(wideJob.stdout) as { id: string }).id;
    const retina = await browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 2 });
    const sharpPage = await retina.newPage();
    sharpPage.on('pageerror', (e) => pageErrors.push(String(e)));
    await signIn(sharpPage, farm.url, 'admin', farm.adminPassword);
    await sharpPage.goto(`${farm.url}/#/jobs/${wideId}`);
    await sharpPage.locator('[data-testid="job-status"][data-status="done"]').waitFor({ timeout: 180_000 });
    const viewerLoaded = (page: Page, variant: string) =>
      page.waitForFunction(
        (v) => {
          const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]');
          return !!img && img.src.endsWith(`/${v}`) && img.complete && img.naturalWidth > 0;
        },
        variant,
        { timeout: 60_000 },
      );
    await viewerLoaded(sharpPage, 'image');
    fit = await viewerFit(sharpPage);
    assert.deepEqual(fit.natural, [1600, 1200], `a 2x screen shows the full frame: ${JSON.stringify(fit)}`);
    assert.ok(fit.inside && fit.shapeError < 0.02, `the full frame fits: ${JSON.stringify(fit)}`);
    await retina.close();
    await page.goto(`${farm.url}/#/jobs/${wideId}`);
    await viewerLoaded(page, 'preview');
    fit = await viewerFit(page);
    assert.deepEqual(fit.natural, [1280, 960], `a 1x screen shows the 1280 px preview: ${JSON.stringify(fit)}`);
    assert.ok(fit.inside && fit.shapeError < 0.02 && fit.scale <= 1.001, `the preview fits: ${JSON.stringify(fit)}`);
    await page.goto(`${farm.url}/#/jobs/${renderId}`);
    await page.locator('[data-testid="job-status"][data-status="done"]').waitFor();

    // ---- the task drawer: jump by number, its files (downloadable), log search and download
    await page.getByTestId('task-jump-input').fill('99');
    await page.getByTestId('task-jump-input').press('Enter');
    await page.getByTestId('task-jump-error').filter({ hasText: 'Tasks are numbered 1 to 10.' }).waitFor();
    await page.getByTestId('task-jump-input').fill('7');
    await page.getByTestId('task-jump-input').press('Enter');
    await page.locator('[data-testid="task-panel"] h2', { hasText: 'Task #7' }).waitFor();
    await page.getByTestId('task-file').first().waitFor();
    const files = await page.getByTestId('task-file').evaluateAll((links) => links.map((a) => ({ path: a.textContent, size: Number(a.getAttribute('data-size')) })));
    const frameFile = files.find((f) => /^frames\/.*0007\.png$/.test(f.path ?? ''));
    assert.ok(frameFile && frameFile.size > 0, `the task lists its frame: ${JSON.stringify(files)}`);
    assert.ok(files.some((f) => f.path === 'stdout.txt'), `and its stdout: ${JSON.stringify(files)}`);
    const [frameDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('task-file').filter({ hasText: frameFile.path! }).click()]);
    const savedFrame = join(work, 'frame7.png');
    await frameDownload.saveAs(savedFrame);
    assert.equal((await readFile(savedFrame)).length, frameFile.size, 'the download is the whole file');
    await page.getByTestId('task-log').filter({ hasText: 'Fra:7' }).waitFor();
    await page.getByTestId('log-search').fill('fra:');
    await page.getByTestId('log-matches').waitFor();
    const found = ((await page.getByTestId('task-log').textContent()) ?? '').split('\n').filter(Boolean);
    assert.match(found[0] ?? '', /^\d+ lines? holds? “fra:”$/);
    assert.ok(found.length > 1 && found.slice(1).every((line) => line.toLowerCase().includes('fra:')), `only matching lines: ${found.slice(0, 4).join(' / ')}`);
    const [logDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('log-download').click()]);
    assert.match(logDownload.suggestedFilename(), new RegExp(`^${renderId}-task-0007-attempt-1\\.log$`));
    const savedLog = join(work, 'task7.log');
    await logDownload.saveAs(savedLog);
    assert.match(await readFile(savedLog, 'utf8'), /Fra:7/);
    await checkLayout(page, 'task-drawer-render');
    await page.getByTestId('task-close').click();
    // the first task's log starts with Blender (it started it), not with a sandbox warning
    await page.getByTestId('task-row').first().click();
    await page.locator('[data-testid="task-panel"] h2', { hasText: 'Task #1' }).waitFor();
    await page.getByTestId('task-log').filter({ hasText: 'Blender' }).waitFor();
    assert.doesNotMatch((await page.getByTestId('task-log').textContent()) ?? '', /could not get a list of mounted file-systems/);
    await page.getByTestId('task-close').click();

    // ---- the job list: kind with the last frame, sorting by a column, owner filter, why a job waits
    const danaCli = await farm.userCli('dana');
    const danas = await danaCli(['job', 'create', '-n', 'dana wants 16 cores', '-s', join(work, 'ok.sh'), '-i', join(work, 'one.txt'), '-t', 'xl', '-r', '--json']);
    assert.equal(danas.code, 0, danas.stderr);
    await page.goto(`${farm.url}/#/jobs`);
    const renderRow = page.locator(`[data-testid="job-row"][data-job-id="${renderId}"]`);
    await renderRow.waitFor();
    await page.waitForFunction((id) => {
      const img = document.querySelector<HTMLImageElement>(`[data-job-id="${id}"] [data-testid="job-thumb"]`);
      return !!img && img.complete && img.naturalWidth > 0;
    }, renderId);
    assert.equal(await page.locator(`[data-testid="job-row"][data-job-id="${failingId}"] [data-testid="job-kind"]`).textContent(), 'script');
    const danaRow = page.locator('[data-testid="job-row"]', { hasText: 'dana wants 16 cores' });
    assert.equal(await danaRow.getByTestId('job-waiting').textContent(), 'cannot be scheduled');
    assert.match((await danaRow.getByTestId('job-waiting').getAttribute('title')) ?? '', /asks for 16 cores but the largest connected agent offers 1/);
    assert.equal(await page.locator('[data-testid="job-row"]', { hasText: 'two thousand inputs' }).getByTestId('job-waiting').textContent(), 'not started');
    const names = () => page.getByTestId('job-link').allTextContents();
    await page.getByTestId('sort-name').click();
    await page.waitForURL(/sort=name&order=asc/);
    await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"] [data-testid="sort-name"]'));
    await page.waitForFunction(() => {
      const n = [...document.querySelectorAll('[data-testid="job-link"]')].map((a) => a.textContent ?? '');
      return n.join('|') === [...n].sort((a, b) => a.localeCompare(b)).join('|') && n.length >= 5;
    });
    const ascending = await names();
    await page.getByTestId('sort-name').click();
    await page.waitForURL(/sort=name&order=desc/);
    await page.waitForFunction((first) => document.querySelector('[data-testid="job-link"]')?.textContent !== first, ascending[0]);
    assert.deepEqual(await names(), [...ascending].reverse(), 'a second click turns the order around');
    await page.getByTestId('owner-filter').selectOption('dana');
    await page.waitForURL(/owner=dana/);
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="job-owner"]')].every((o) => o.textContent === 'dana'));
    assert.deepEqual(await names(), ['dana wants 16 cores']);
    await checkLayout(page, 'jobs-filtered');
    const danaToken = (JSON.parse(await readFile(join(farm.dataDir, 'cli-dana.json'), 'utf8')) as { token: string }).token;
    const peek = await fetch(`${farm.url}/api/v1/jobs?owner=admin`, { headers: { authorization: `Bearer ${danaToken}` } });
    assert.equal(peek.status, 403, "a user cannot list someone else's jobs by owner");
    const danaSeesAgents = (await (await fetch(`${farm.url}/api/v1/workers`, { headers: { authorization: `Bearer ${danaToken}` } })).json()) as { workers: { id: string }[] };
    for (const w of danaSeesAgents.workers) {
      const detail = (await (await fetch(`${farm.url}/api/v1/workers/${w.id}`, { headers: { authorization: `Bearer ${danaToken}` } })).json()) as { recent: unknown[] };
      assert.deepEqual(detail.recent, [], "an agent's page shows a user only their own jobs' attempts");
    }

    // ---- an agent's page: what it can run, its recent tasks and failures
    const failedOn = ((await (await fetch(`${farm.url}/api/v1/jobs/${failingId}/tasks`, { headers: { authorization: `Bearer ${await farm.adminToken()}` } })).json()) as { tasks: { agent: string }[] }).tasks[0]!.agent;
    await page.goto(`${farm.url}/#/workers`);
    await page.getByTestId('worker-link').filter({ hasText: failedOn }).click();
    await page.getByTestId('worker-page').waitFor();
    const agentId = (await page.getByTestId('worker-page').getAttribute('data-worker-id'))!;
    assert.equal(await page.getByTestId('worker-name').textContent(), failedOn);
    assert.deepEqual(
      await page.getByTestId('worker-can-run').locator('.chip').evaluateAll((chips) => chips.map((c) => `${c.textContent} ${c.getAttribute('data-fits')}`)),
      ['✓ S · 1 core true', '✗ M · 4 cores false', '✗ L · 8 cores false', '✗ XL · 16 cores false', '✗ GPU · 4 cores false'],
    );
    await page.locator('[data-testid="worker-attempt"][data-status="error"]', { hasText: 'fails on purpose' }).first().waitFor();
    assert.ok((await page.locator('[data-testid="worker-attempt"][data-status="done"]').count()) >= 1, 'its finished render tasks are listed too');
    assert.match((await page.getByTestId('worker-failures').textContent()) ?? '', /\d+ attempts · [1-9]\d* failed/);
    await checkLayout(page, 'worker-page');

    // ---- a 390 px phone: every task tab in sight, the frame fits
    const phone = await context.newPage();
    phone.on('pageerror', (e) => pageErrors.push(String(e)));
    await phone.setViewportSize(PHONE);
    await phone.goto(`${farm.url}/#/jobs/${renderId}`);
    await phone.locator('[data-testid="job-status"][data-status="done"]').waitFor();
    await phone.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"]');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    const tabs = await phone.evaluate(() =>
      [...document.querySelectorAll('.tasks-section [role="tab"]')].map((t) => {
        const r = t.getBoundingClientRect();
        const list = t.parentElement!;
        return { tab: t.textContent, visible: r.left >= 0 && r.right <= window.innerWidth, hiddenByScroll: list.scrollWidth > list.clientWidth + 1 };
      }),
    );
    assert.equal(tabs.length, 6);
    for (const t of tabs) assert.ok(t.visible && !t.hiddenByScroll, `tab ${t.tab} is in sight at 390 px: ${JSON.stringify(tabs)}`);
    fit = await viewerFit(phone);
    assert.ok(fit.inside && fit.shapeError < 0.02 && fit.scale <= 1.001, `the frame fits the phone: ${JSON.stringify(fit)}`);
    await checkLayout(phone, 'phone-render-job');
    for (const [name, path] of [
      ['phone-jobs', '/jobs'],
      ['phone-workers', '/workers'],
      ['phone-new-job', '/jobs/new'],
      ['phone-new-render', '/jobs/new?kind=render'],
      ['phone-users', '/users'],
      ['phone-script-job', `/jobs/${failingId}`],
      ['phone-worker', `/workers/${agentId}`],
    ] as const) {
      await phone.goto(`${farm.url}/#${path}`);
      await phone.locator('main .page, main .panel').first().waitFor();
      await phone.waitForLoadState('networkidle').catch(() => undefined);
      await checkLayout(phone, name);
    }
    await phone.close();
    for (const [name, path] of [
      ['jobs', '/jobs'],
      ['new-render', '/jobs/new?kind=render'],
      ['users', '/users'],
      ['script-job', `/jobs/${failingId}`],
    ] as const) {
      await page.goto(`${farm.url}/#${path}`);
      await page.locator('main .page, main .panel').first().waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await checkLayout(page, name);
    }

    // ---- someone who is not an admin: no Users page asked of the coordinator (403)
    const userContext = await browser.newContext({ viewport: DESKTOP });
    const userPage = await userContext.newPage();
    userPage.on('pageerror', (e) => pageErrors.push(String(e)));
    const forbidden: string[] = [];
    userPage.on('response', (r) => {
      if (r.status() === 403) forbidden.push(r.url());
    });
    await signIn(userPage, farm.url, 'dana', 'dana-password');
    await userPage.goto(`${farm.url}/#/users`);
    await userPage.getByTestId('admins-only').waitFor();
    await userPage.goto(`${farm.url}/#/workers`);
    await userPage.getByTestId('worker-row').first().waitFor();
    assert.deepEqual(forbidden, [], 'no request the coordinator refuses');

    // ---- the account page: change one's password (other sign-ins end), see one's sign-ins
    await userPage.getByTestId('current-user').click();
    await userPage.getByTestId('account-page').waitFor();
    await userPage.getByTestId('token').filter({ hasText: 'this browser' }).waitFor();
    assert.ok((await userPage.getByTestId('token').count()) >= 2, 'the browser and the CLI sign-ins are listed');
    const form = userPage.getByTestId('password-form');
    await form.getByLabel('Current password').fill('not-it');
    await form.getByLabel('New password', { exact: true }).fill('dana-new-password');
    await form.getByLabel('New password again').fill('dana-new-password');
    await userPage.getByTestId('change-password').click();
    await userPage.getByTestId('error').filter({ hasText: 'the current password is wrong' }).waitFor();
    await form.getByLabel('Current password').fill('dana-password');
    await userPage.getByTestId('change-password').click();
    await userPage.getByTestId('password-changed').waitFor();
    await userPage.waitForFunction(() => document.querySelectorAll('[data-testid="token"]').length === 1);
    assert.equal((await fetch(`${farm.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${danaToken}` } })).status, 401, 'the CLI sign-in ended');
    await checkLayout(userPage, 'account');

    // ---- an admin: roles, and ending someone's sign-in
    await page.goto(`${farm.url}/#/users`);
    await page.getByTestId('role-dana').click();
    await page.locator('[data-testid="user-row"][data-user="dana"] .badge-admin').waitFor();
    await page.getByTestId('role-dana').click();
    await page.locator('[data-testid="user-row"][data-user="dana"]', { hasText: 'user' }).locator('.muted', { hasText: 'user' }).waitFor();
    await page.getByTestId('tokens-of-dana').click();
    await page.getByTestId('tokens-dana').getByTestId('revoke-token').first().click();
    await page.getByTestId('tokens-dana').getByText('No live sign-in.').waitFor();
    await checkLayout(page, 'users-admin');
    await userPage.goto(`${farm.url}/#/jobs`);
    await userPage.getByTestId('login-form').waitFor(); // dana's browser was signed out
    await checkLayout(userPage, 'sign-in');
    const lastAdmin = await fetch(`${farm.url}/api/v1/users/admin`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${await farm.adminToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ admin: false }),
    });
    assert.equal(lastAdmin.status, 409, 'the farm keeps an admin');
    await userContext.close();

    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  } finally {
    await browser?.close().catch(() => {});
    await farm?.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
});
