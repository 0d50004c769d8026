// End-to-end test of the web app: a real farm (coordinator + agent processes) driven through
// Debian's Chromium with playwright-core. Screenshots of every main page go to .test-output/web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import yauzl from 'yauzl';
import { startFarm, type Farm } from '../helpers/farm.js';
import { buildWebApp } from '../helpers/browser.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, '.test-output', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const SCRIPT = `#!/usr/bin/env python3
# Reads its one data file, prints what it does, writes run-result/out.txt.
import os, sys
here = os.listdir('.')
name = None
if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
    name = sys.argv[1]
for key, value in os.environ.items():
    if name is None and 'INPUT' in key.upper() and os.path.isfile(value):
        name = value
if name is None:
    name = sorted(f for f in here if f.endswith('.dat'))[0]
factor = open('factor.txt').read().strip()
text = open(name).read().strip()
print(f'processed {os.path.basename(name)}: {text.upper()} x{factor}', flush=True)
os.makedirs('run-result', exist_ok=True)
with open(os.path.join('run-result', 'out.txt'), 'w') as out:
    out.write(f'{os.path.basename(name)} {text.upper()} x{factor}\\n')
`;

/** Natural order: frame_2 before frame_10, as the coordinator orders tasks. */
const DATA: Record<string, string> = { 'frame_10.dat': 'gamma', 'frame_1.dat': 'alpha', 'frame_2.dat': 'beta' };

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('jobs-page').waitFor();
}

function zipEntries(file: string): Promise<Map<string, string>> {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(file, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error('no zip'));
      const entries = new Map<string, string>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolvePromise(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

async function apiAs(farm: Farm, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${farm.url}/api/v1/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

test('web app: sign in, submit a script job, watch it finish, read logs, download results, isolation', { timeout: 300_000 }, async () => {
  buildWebApp();
  mkdirSync(SHOTS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'drover-web-e2e-'));
  writeFileSync(join(work, 'process.py'), SCRIPT);
  writeFileSync(join(work, 'factor.txt'), '3\n');
  for (const [name, text] of Object.entries(DATA)) writeFileSync(join(work, name), `${text}\n`);

  let farm: Farm | undefined;
  let browser: Browser | undefined;
  const consoleErrors: string[] = [];
  try {
    farm = await startFarm({ agents: 1 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const admin: BrowserContext = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 860 } });
    const page = await admin.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => consoleErrors.push(String(error)));

    // ---- sign in (a wrong password first: a readable message, not a blank page)
    await page.goto(farm.url);
    await page.getByTestId('login-form').waitFor();
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByTestId('sign-in').click();
    const loginError = await page.getByTestId('error').textContent();
    assert.ok(loginError && loginError.trim().length > 0, 'a failed sign-in shows a message');
    await page.getByLabel('Password').fill('');
    await shot(page, '1-sign-in');
    await page.getByLabel('Password').fill(farm.adminPassword);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('jobs-page').waitFor();
    assert.equal((await page.getByTestId('current-user').textContent())?.startsWith('admin'), true);

    // ---- new job through the form
    await page.getByTestId('new-job').click();
    await page.getByTestId('new-job-form').waitFor();
    await page.getByLabel('Job title').fill('e2e upper-case');
    await page.getByLabel('Script file').setInputFiles(join(work, 'process.py'));
    await page.getByLabel('Data files').setInputFiles(Object.keys(DATA).map((n) => join(work, n)));
    await page.getByLabel('Constants files').setInputFiles(join(work, 'factor.txt'));
    await page.getByTestId('size-s').check();
    assert.equal(await page.getByTestId('start-now').isChecked(), true);
    assert.equal(await page.getByTestId('task-count').textContent(), '3');
    const listed = await page.getByTestId('data-input-list').locator('.file-name').allTextContents();
    assert.deepEqual(listed, ['frame_1.dat', 'frame_2.dat', 'frame_10.dat'], 'data files in natural name order');
    await shot(page, '3-new-job');
    await page.getByTestId('submit-job').click();

    // ---- the job page, updating live until done (no reload)
    await page.waitForURL(/#\/jobs\/[^/?]+/, { timeout: 60_000 });
    await page.getByTestId('job-page').waitFor();
    const jobId = await page.getByTestId('job-page').getAttribute('data-job-id');
    assert.ok(jobId, 'the job page names its job');
    assert.equal(await page.getByTestId('job-name').textContent(), 'e2e upper-case');
    await page.locator('[data-testid="job-status"][data-status="done"]').waitFor({ timeout: 180_000 });
    await page.locator('[data-testid="task-row"][data-status="done"]').nth(2).waitFor();
    const rows = page.getByTestId('task-row');
    assert.equal(await rows.count(), 3);
    const inputs = await rows.getByTestId('task-input').allTextContents();
    assert.deepEqual(inputs.map((s) => s.trim()), ['frame_1.dat', 'frame_2.dat', 'frame_10.dat']);
    const progress = page.locator('.stats [data-testid="progress"]');
    assert.equal(await progress.getAttribute('data-done'), '3');

    // ---- a task's log shows what the script printed
    await rows.first().click();
    await page.getByTestId('task-panel').waitFor();
    await page.getByTestId('task-log').filter({ hasText: 'processed frame_1.dat: ALPHA x3' }).waitFor({ timeout: 30_000 });
    await shot(page, '4-job-page-log');
    await page.getByTestId('task-close').click();
    await page.getByTestId('task-panel').waitFor({ state: 'detached' });

    // ---- download the results zip
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('job-download').click()]);
    const zipPath = join(work, 'results.zip');
    await download.saveAs(zipPath);
    const entries = await zipEntries(zipPath);
    const names = [...entries.keys()];
    for (const expected of [`${jobId}/task-0001/out.txt`, `${jobId}/task-0001/stdout.txt`, `${jobId}/task-0003/out.txt`]) {
      assert.ok(names.includes(expected), `zip has ${expected}; it has ${names.join(', ')}`);
    }
    assert.ok(names.includes(`${jobId}/index.json`), 'zip has the results index');
    assert.equal(entries.get(`${jobId}/task-0001/out.txt`)?.trim(), 'frame_1.dat ALPHA x3');
    assert.equal(entries.get(`${jobId}/task-0003/out.txt`)?.trim(), 'frame_10.dat GAMMA x3');
    assert.match(entries.get(`${jobId}/task-0002/stdout.txt`) ?? '', /processed frame_2\.dat: BETA x3/);

    // ---- the job list: tabs with counts, the job row, search
    await page.getByTestId('nav-jobs').click();
    const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'done');
    await page.getByRole('tab', { name: /Done/ }).click();
    await row.waitFor();
    assert.equal(await page.getByTestId('count-done').textContent(), '1');
    await page.getByRole('tab', { name: /All/ }).click();
    await page.getByTestId('job-search').fill('no-such-job-name');
    await page.getByTestId('empty').waitFor();
    await page.getByTestId('job-search').fill('upper');
    await row.waitFor();
    await page.getByTestId('job-search').fill('');
    await row.waitFor();
    await shot(page, '2-job-list');

    // ---- workers
    await page.getByTestId('nav-workers').click();
    await page.locator('[data-testid="worker-row"][data-status="online"]').first().waitFor();
    await shot(page, '5-workers');

    // ---- users: add one through the form, then remove it
    await page.getByTestId('nav-users').click();
    await page.getByTestId('users-page').waitFor();
    const addForm = page.getByTestId('add-user-form');
    await addForm.getByLabel('Username').fill('carol');
    await addForm.getByLabel('Password').fill('carol-pw-123');
    await addForm.getByLabel('Administrator').check();
    await page.getByTestId('add-user').click();
    await page.locator('[data-testid="user-row"][data-user="carol"]').waitFor();
    await shot(page, '6-users');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByTestId('remove-user-carol').click();
    await page.locator('[data-testid="user-row"][data-user="carol"]').waitFor({ state: 'detached' });

    // ---- a second user, created through the API, cannot see admin's job
    const login = await fetch(`${farm.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: farm.adminPassword }),
    });
    assert.equal(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const created = await apiAs(farm, token, 'POST', 'users', { name: 'bob', password: 'bob-pw-123' });
    assert.equal(created.status, 201, await created.clone().text());

    const bobContext = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const bob = await bobContext.newPage();
    bob.setDefaultTimeout(20_000);
    bob.on('pageerror', (error) => consoleErrors.push(String(error)));
    await signIn(bob, farm.url, 'bob', 'bob-pw-123');
    await bob.getByTestId('empty').waitFor();
    assert.equal(await bob.getByTestId('job-row').count(), 0, 'bob sees no jobs');
    assert.equal(await bob.getByTestId('count-all').textContent(), '0');
    assert.equal(await bob.getByTestId('nav-users').count(), 0, 'no users page for a non-admin');
    await bob.goto(`${farm.url}/#/jobs/${jobId}`);
    await bob.getByTestId('job-not-found').waitFor();
    assert.equal(await bob.getByTestId('job-page').count(), 0);

    // ---- signing out returns to the sign-in page; the session is gone
    await bob.getByTestId('sign-out').click();
    await bob.getByTestId('login-form').waitFor();
    await bob.reload();
    await bob.getByTestId('login-form').waitFor();

    // ---- a phone-sized screen still works
    const phone = await admin.newPage();
    await phone.setViewportSize({ width: 390, height: 800 });
    await phone.goto(`${farm.url}/#/jobs/${jobId}`);
    await phone.locator('[data-testid="job-status"][data-status="done"]').waitFor();
    await phone.screenshot({ path: join(SHOTS, '7-phone-job.png') });
    await phone.goto(`${farm.url}/#/jobs`);
    await phone.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`).waitFor();
    await phone.screenshot({ path: join(SHOTS, '8-phone-jobs.png') });

    assert.deepEqual(consoleErrors, [], 'no uncaught errors in the page');
  } finally {
    await browser?.close().catch(() => {});
    await farm?.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
});
