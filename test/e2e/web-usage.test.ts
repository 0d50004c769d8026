// The usage page in Chromium on a real farm: a user's tasks ran, and the page shows their core-hours
// per day as bars (today's the highest), the per-user row with exactly the API's numbers and the job
// with a link; admins see each user's use against their cap on the Users page. At 1440×900 and on a
// 390×844 phone, with no text or image overflowing. Screenshots go to .test-output/web/usage-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { type Farm, api, eventually, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { buildWebApp, DESKTOP, launchChromium, layoutProblems, PHONE, SHOTS, signIn } from '../helpers/browser.js';
import type { UsageReport } from '../../src/wire/usage.js';

let farm: Farm;
let browser: Browser;
let jobId: string;

before(async () => {
  buildWebApp();
  mkdirSync(SHOTS, { recursive: true });
  farm = await startFarm({ agents: 1, slots: 2 });
  browser = await launchChromium();
  const uma = await farm.userCli('uma', 'uma-password');
  const capped = await farm.cli(['user', 'set', 'uma', '--max-cores', '2', '--monthly-core-hours', '5']);
  assert.equal(capped.code, 0, capped.stderr);
  const ws = await makeWorkspace({ 'work.sh': 'sleep 0.5\necho done\n', 'in/a.txt': 'a', 'in/b.txt': 'b', 'in/c.txt': 'c' });
  const r = await uma(['job', 'create', '-n', 'a job whose usage is shown', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '-w', '--json']);
  assert.equal(r.code, 0, r.stderr);
  jobId = (JSON.parse(r.stdout) as { id: string }).id;
});

after(async () => {
  await browser?.close();
  await farm?.stop();
});

test("the usage page charts a user's core-hours per day and lists them per user and per job, as the API says", async () => {
  const login = await api<{ token: string }>(farm.url, null, 'POST', '/auth/login', { username: 'uma', password: 'uma-password' });
  const fromApi = (await api<UsageReport>(farm.url, login.body.token, 'GET', '/usage')).body;
  const mine = fromApi.users.find((u) => u.user === 'uma')!;
  assert.ok(mine.coreSeconds >= 3 * 0.5);
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await signIn(page, farm.url, 'uma', 'uma-password');
  await page.getByTestId('nav-usage').click();
  await page.getByTestId('usage-user-row').first().waitFor();
  const row = page.getByTestId('usage-user-row');
  assert.equal(await row.count(), 1, 'a user sees only their own row');
  assert.equal(await row.getAttribute('data-user'), 'uma');
  assert.equal(Number(await row.getAttribute('data-core-seconds')), mine.coreSeconds);
  // 30 days of bars, today's (UTC) the only one with usage, drawn with a height.
  const bars = page.getByTestId('usage-bar');
  assert.equal(await bars.count(), 30);
  const today = new Date().toISOString().slice(0, 10);
  const todayBar = page.locator(`[data-testid=usage-bar][data-day="${today}"]`);
  assert.equal(Number(await todayBar.getAttribute('data-core-seconds')), mine.coreSeconds);
  assert.ok(Number(await todayBar.getAttribute('height')) > 100, 'the highest day fills the chart');
  assert.match((await page.getByTestId('usage-total').textContent()) ?? '', /core-hours from/);
  const jobLink = page.locator(`[data-testid=usage-job-row][data-job="${jobId}"] a`);
  assert.equal(await jobLink.textContent(), 'a job whose usage is shown');
  assert.deepEqual(await layoutProblems(page), []);
  await page.screenshot({ path: join(SHOTS, 'usage-desktop.png'), fullPage: true });
  // A range with no usage says so.
  await page.locator('input[name=usage-since]').fill('2020-01-01');
  await page.locator('input[name=usage-until]').fill('2020-01-31');
  await page.locator('input[name=usage-until]').dispatchEvent('change');
  await page.getByText('No usage in these days.').waitFor();
  await page.setViewportSize(PHONE);
  await page.goto(`${farm.url}/#/usage`);
  await page.getByTestId('usage-user-row').first().waitFor();
  assert.deepEqual(await layoutProblems(page), [], 'the usage page on a phone');
  await page.screenshot({ path: join(SHOTS, 'usage-phone.png'), fullPage: true });
  await jobLink.click();
  await page.waitForURL(new RegExp(`#/jobs/${jobId}`));
  await context.close();
});

test("admins see each user's use against their cap and budget on the Users page, and set the limits there", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await signIn(page, farm.url, 'admin', farm.adminPassword);
  await page.getByTestId('nav-users').click();
  await page.getByTestId('cores-of-uma').waitFor();
  assert.equal((await page.getByTestId('cores-of-uma').textContent())?.trim(), '0 of 2');
  assert.match((await page.getByTestId('month-of-uma').textContent()) ?? '', /^(<0\.01|[\d.]+) of 5 h$/);
  assert.deepEqual(await layoutProblems(page), []);
  // Setting limits from the page: a bad value is said in the page, a good one stored and shown.
  await page.getByTestId('limits-of-uma').click();
  const form = page.getByTestId('quota-form-uma');
  await form.locator('input[name=max-cores]').fill('2.5');
  await page.getByTestId('save-quota-uma').click();
  await page.getByText('Max cores is a whole number of at least 1, or empty for no cap.').waitFor();
  await form.locator('input[name=max-cores]').fill('3');
  await form.locator('input[name=monthly-core-hours]').fill('7.5');
  await form.locator('select[name=over-budget]').selectOption('stop');
  await page.getByTestId('save-quota-uma').click();
  await page.getByText('Limits of uma saved.').waitFor();
  await eventually(async () => (await page.getByTestId('cores-of-uma').textContent())?.trim() === '0 of 3', 10_000, 'the new cap in the table');
  const users = (await api<{ users: { name: string; quota: { maxCores: number; monthlyCoreHours: number; overBudget: string } }[] }>(farm.url, await farm.adminToken(), 'GET', '/users')).body.users;
  const uma = users.find((u) => u.name === 'uma')!;
  assert.deepEqual([uma.quota.maxCores, uma.quota.monthlyCoreHours, uma.quota.overBudget], [3, 7.5, 'stop']);
  await page.setViewportSize(PHONE);
  await page.getByTestId('limits-of-uma').click();
  assert.deepEqual(await layoutProblems(page), [], 'the Users page with quota columns and the limits form on a phone');
  await page.screenshot({ path: join(SHOTS, 'usage-users-phone.png'), fullPage: true });
  await context.close();
});
