// The web app's counts, job list and accounts in Chromium on a real farm (issue 22): a task whose
// work is over but whose results are still on their way is counted as uploading, not running
// (the job's legend, the Workers page, the API); the job list sorts by progress and by duration,
// pages included; an admin resets a user's password from the Users page. The agent reaches the
// coordinator through a small proxy that can hold its result uploads, so "still uploading" lasts
// as long as the test looks. Screenshots go to .test-output/web/lists-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { api, eventually, type ManagedProcess, startAgent, startServer, type TestServer } from '../helpers/farm.js';
import { buildWebApp, DESKTOP, launchChromium, layoutProblems, PHONE, SHOTS, signIn } from '../helpers/browser.js';

// Each task prints something of its own (so its stdout is a new blob to upload); inputs named bad*
// fail, so a job's progress is the share of good inputs.
const SCRIPT = '#!/bin/sh\ncase "$(basename "$1")" in bad*) echo "refusing $1"; exit 1;; esac\necho "read $1 at $(date +%s%N)"\n';

/** A proxy to the coordinator that holds the agent's blob uploads while `hold` is true. */
class UploadGate {
  hold = false;
  held = 0;
  private waiting: (() => void)[] = [];
  private server: Server | null = null;
  url = '';

  async start(target: string): Promise<void> {
    const to = new URL(target);
    this.server = createServer((req, res) => void this.forward(to, req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
  }

  release(): void {
    this.hold = false;
    for (const go of this.waiting.splice(0)) go();
  }

  private async forward(to: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Results go up as PUT /blobs/SHA, or, small ones, together in one POST /blobs/batch.
    const upload = (req.method === 'PUT' && req.url?.startsWith('/api/v1/blobs/')) || (req.method === 'POST' && req.url === '/api/v1/blobs/batch');
    if (this.hold && upload) {
      this.held++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    const upstream = httpRequest({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // A client gone while its upload was held: the coordinator is not left waiting for its body.
    if (req.destroyed) return void upstream.destroy();
    req.on('close', () => {
      if (!req.complete) upstream.destroy();
    });
    req.pipe(upstream);
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

interface JobJson {
  id: string;
  name: string;
  status: string;
  durationMs: number | null;
  taskCount: number;
  counts: Record<string, number>;
}
interface WorkerJson {
  name: string;
  slots: number;
  runningTasks: { id: string | null; uploading?: boolean }[];
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let server: TestServer;
let agent: ManagedProcess;
let browser: Browser;
let token: string;
const gate = new UploadGate();

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  buildWebApp();
  server = await startServer({ leaseSeconds: 6 });
  await gate.start(server.url);
  agent = await startAgent({ url: gate.url, joinToken: server.joinToken, dataDir: server.dataDir }, { name: 'gated', slots: 1 });
  token = (await api<{ token: string }>(server.url, null, 'POST', '/auth/login', { username: 'admin', password: server.adminPassword })).body.token;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await agent?.kill('SIGINT');
  await gate.stop();
  await server?.kill('SIGTERM');
  if (server && !process.env.DROVER_KEEP_TEST_DATA) rmSync(server.dataDir, { recursive: true, force: true });
});

/** Uploads a file's bytes (as admin, straight to the coordinator) and names it for a job. */
async function file(name: string, text: string): Promise<{ name: string; sha256: string }> {
  const sha256 = sha(text);
  const res = await fetch(`${server.url}/api/v1/blobs/${sha256}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: text });
  assert.ok(res.ok, `upload of ${name}: ${res.status}`);
  return { name, sha256 };
}

async function scriptJob(name: string, inputs: string[], start = true): Promise<JobJson> {
  const script = await file('run.sh', SCRIPT);
  const files = await Promise.all(inputs.map((input) => file(input, `${input}\n`)));
  const res = await api<JobJson>(server.url, token, 'POST', '/jobs', { kind: 'script', name, script, inputs: files, maxAttempts: 1, start });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const job = async (id: string) => (await api<JobJson>(server.url, token, 'GET', `/jobs/${id}`)).body;
const ended = (id: string) => eventually(async () => ['done', 'error'].includes((await job(id)).status) && job(id), 120_000, `job ${id} to end`);

async function adminPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await signIn(page, server.url, 'admin', server.adminPassword);
  return page;
}

test('a task whose results are still uploading is counted as uploading, not running: job legend, Workers, API', { timeout: 300_000 }, async () => {
  const page = await adminPage();
  gate.hold = true;
  const submitted = await scriptJob('uploading', ['one.txt']);
  // The job page is open before the task runs: it follows the change live.
  await page.goto(`${server.url}/#/jobs/${encodeURIComponent(submitted.id)}`);
  await page.getByTestId('legend-running').waitFor();
  // The task ran; its results wait at the gate; the agent's heartbeat says it is uploading.
  const seen = await eventually(async () => {
    const j = await job(submitted.id);
    return j.counts.uploading === 1 && j;
  }, 60_000, 'the task counted as uploading');
  assert.ok(gate.held >= 1, 'the agent is uploading through the gate');
  assert.equal(seen.counts.running, 0);
  assert.equal(seen.status, 'running');
  assert.equal(Object.values(seen.counts).reduce((a, b) => a + b, 0), seen.taskCount);
  const workers = (await api<{ workers: WorkerJson[] }>(server.url, token, 'GET', '/workers')).body.workers;
  const gated = workers.find((w) => w.name === 'gated')!;
  assert.deepEqual(gated.runningTasks.map((t) => t.uploading), [true]);

  await page.getByTestId('legend-uploading').waitFor();
  assert.match(await page.getByTestId('legend-uploading').innerText(), /^1 uploading$/);
  assert.match(await page.getByTestId('legend-running').innerText(), /^0 running$/);
  await page.screenshot({ path: join(SHOTS, 'lists-uploading-job.png') });
  await page.goto(`${server.url}/#/workers`);
  const slots = page.locator('tr', { hasText: 'gated' }).getByTestId('worker-slots');
  await slots.waitFor();
  assert.equal(await slots.getAttribute('data-busy'), '0');
  assert.match(await page.getByTestId('worker-uploading').innerText(), /1 uploading results/);
  assert.equal(await page.getByTestId('worker-finishing').count(), 0);
  await page.screenshot({ path: join(SHOTS, 'lists-uploading-workers.png') });
  assert.deepEqual(await layoutProblems(page), []);

  // Someone who is not an admin sees that the agent is busy, not with whose job: the coordinator
  // sends that task without its ids (null, as the wire contract says), and the page does without them.
  const erin = await api(server.url, token, 'POST', '/users', { name: 'erin', password: 'erin-password' });
  assert.equal(erin.status, 201, JSON.stringify(erin.body));
  const userContext = await browser.newContext({ viewport: DESKTOP });
  const userPage = await userContext.newPage();
  const pageErrors: string[] = [];
  userPage.on('pageerror', (e) => pageErrors.push(String(e)));
  await signIn(userPage, server.url, 'erin', 'erin-password');
  await userPage.goto(`${server.url}/#/workers`);
  const gatedRow = userPage.locator('tr', { hasText: 'gated' });
  await gatedRow.getByText("another user's task").waitFor();
  assert.equal(await gatedRow.locator('a.chip').count(), 0, "no link to another user's job");
  assert.deepEqual(pageErrors, []);
  await userContext.close();

  // The results arrive: done, and nothing is uploading any more.
  gate.release();
  const finished = await ended(submitted.id);
  assert.equal(finished.status, 'done');
  assert.deepEqual([finished.counts.done, finished.counts.running, finished.counts.uploading], [1, 0, 0]);
  await page.context().close();
});

test('the job list sorts by progress and by duration, in the API and in the page, and its pages join up', { timeout: 300_000 }, async () => {
  // Progress 100%, 50%, 25% and 0% (never started).
  const full = await scriptJob('p-full', ['a.txt', 'b.txt', 'c.txt', 'd.txt']);
  const half = await scriptJob('p-half', ['a.txt', 'b.txt', 'bad1.txt', 'bad2.txt']);
  const quarter = await scriptJob('p-quarter', ['a.txt', 'bad1.txt', 'bad2.txt', 'bad3.txt']);
  await scriptJob('p-none', ['a.txt'], false);
  for (const j of [full, half, quarter]) await ended(j.id);

  type List = { jobs: JobJson[]; total: number };
  const list = async (sort: string, order: string, offset = 0, limit = 100) =>
    (await api<List>(server.url, token, 'GET', `/jobs?q=p-&sort=${sort}&order=${order}&offset=${offset}&limit=${limit}`)).body;
  assert.deepEqual((await list('progress', 'desc')).jobs.map((j) => j.name), ['p-full', 'p-half', 'p-quarter', 'p-none']);
  assert.deepEqual((await list('progress', 'asc')).jobs.map((j) => j.name), ['p-none', 'p-quarter', 'p-half', 'p-full']);
  const byDuration = (await list('duration', 'desc')).jobs;
  // Longest first, by the durations the API itself reports; the job never started comes last.
  const started = byDuration.filter((j) => j.durationMs !== null);
  assert.deepEqual(started.map((j) => j.durationMs), [...started.map((j) => j.durationMs!)].sort((a, b) => b - a));
  assert.equal(byDuration.at(-1)!.name, 'p-none');
  const pages = [...(await list('duration', 'desc', 0, 3)).jobs, ...(await list('duration', 'desc', 3, 3)).jobs];
  assert.deepEqual(pages.map((j) => j.id), byDuration.map((j) => j.id));

  const page = await adminPage();
  await page.goto(`${server.url}/#/jobs?q=p-`);
  const names = () => page.getByTestId('job-link').allInnerTexts();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-row"]').length === 4);
  // A first click on Progress shows the furthest along first; a second turns it around.
  await page.getByTestId('sort-progress').click();
  await page.waitForFunction(() => location.hash.includes('sort=progress'));
  await page.waitForFunction(() => document.querySelector('[data-testid="job-link"]')?.textContent === 'p-full');
  assert.deepEqual(await names(), ['p-full', 'p-half', 'p-quarter', 'p-none']);
  assert.equal(await page.locator('th', { has: page.getByTestId('sort-progress') }).getAttribute('aria-sort'), 'descending');
  await page.getByTestId('sort-progress').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="job-link"]')?.textContent === 'p-none');
  assert.deepEqual(await names(), ['p-none', 'p-quarter', 'p-half', 'p-full']);
  await page.getByTestId('sort-duration').click();
  await page.waitForFunction(() => location.hash.includes('sort=duration'));
  await page.waitForFunction((first) => document.querySelector('[data-testid="job-link"]')?.textContent === first, byDuration[0]!.name);
  assert.deepEqual(await names(), byDuration.map((j) => j.name));
  await page.screenshot({ path: join(SHOTS, 'lists-sorted.png') });
  assert.deepEqual(await layoutProblems(page), []);

  // Paging in the page: 52 more jobs (created, not started: 0 % and no duration) make two pages
  // of 50 by progress; the two pages hold every job once.
  for (let i = 0; i < 52; i++) await scriptJob(`p-bulk-${String(i).padStart(2, '0')}`, ['a.txt'], false);
  await page.goto(`${server.url}/#/jobs?q=p-&sort=progress&order=desc`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-row"]').length === 50);
  const first = await page.locator('[data-testid="job-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')));
  assert.deepEqual(first.slice(0, 3), [full.id, half.id, quarter.id]);
  await page.goto(`${server.url}/#/jobs?q=p-&sort=progress&order=desc&offset=50`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="job-row"]').length === 6);
  const second = await page.locator('[data-testid="job-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')));
  const all = (await list('progress', 'desc', 0, 500)).jobs.map((j) => j.id);
  assert.equal(all.length, 56);
  assert.deepEqual([...first, ...second], all);
  await page.context().close();
});

test('an admin resets a user’s password from the Users page: shown once, the old one and their sign-ins end', { timeout: 300_000 }, async () => {
  assert.equal((await api(server.url, token, 'POST', '/users', { name: 'bob', password: 'bob-old-password' })).status, 201);
  const bobOld = (await api<{ token: string }>(server.url, null, 'POST', '/auth/login', { username: 'bob', password: 'bob-old-password' })).body.token;
  assert.equal((await api(server.url, bobOld, 'GET', '/auth/me')).status, 200);

  const page = await adminPage();
  await page.goto(`${server.url}/#/users`);
  await page.getByTestId('password-of-bob').click();
  const input = page.getByTestId('new-password-bob');
  await input.waitFor();
  const offered = await input.inputValue();
  assert.match(offered, /^[A-Za-z0-9]{16}$/, 'a generated password is offered');
  // The admin may type their own instead; an empty one cannot be sent, a short one is refused.
  await input.fill('');
  assert.equal(await page.getByTestId('set-password-bob').isDisabled(), true);
  await input.fill('abc');
  await page.getByTestId('set-password-bob').click();
  await page.getByRole('alert').filter({ hasText: 'at least 4 characters' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'lists-password-refused.png') });
  await page.setViewportSize(PHONE);
  assert.deepEqual(await layoutProblems(page), [], 'the reset form on a phone');
  await page.setViewportSize(DESKTOP);
  await input.fill('bob-new-password-7');
  await page.getByTestId('set-password-bob').click();
  await page.getByTestId('password-set-bob').waitFor();
  assert.equal(await page.getByTestId('new-password').innerText(), 'bob-new-password-7');
  await page.screenshot({ path: join(SHOTS, 'lists-password-set.png') });
  assert.deepEqual(await layoutProblems(page), []);
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SHOTS, 'lists-password-set-phone.png'), fullPage: true });
  assert.deepEqual(await layoutProblems(page), [], 'the Users page with the new password, on a phone');
  await page.setViewportSize(DESKTOP);
  // Shown once: gone when closed, and not brought back by opening the form again.
  await page.getByTestId('password-done-bob').click();
  assert.equal(await page.getByTestId('new-password').count(), 0);
  await page.getByTestId('password-of-bob').click();
  assert.notEqual(await page.getByTestId('new-password-bob').inputValue(), 'bob-new-password-7');
  await page.context().close();

  // Bob's old sign-in and password no longer work; the new one does, in the web app too.
  assert.equal((await api(server.url, bobOld, 'GET', '/auth/me')).status, 401);
  assert.equal((await api(server.url, null, 'POST', '/auth/login', { username: 'bob', password: 'bob-old-password' })).status, 401);
  const bob = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await signIn(bob, server.url, 'bob', 'bob-new-password-7');
  await bob.context().close();
});
