// Tasks that succeed without leaving anything: the original tutorial's script exits 0 when its
// quiet `wget` fails, and the job used to end `done` with no frame. Such a task now carries a
// warning (CLI and web app), and a job with --require-results fails a task that wrote no result.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { type Farm, startFarm } from '../helpers/farm.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Writes a result for "keep" inputs, prints for "say" inputs, and does nothing at all for "quiet" ones. */
const SCRIPT = `
import os, sys
kind = open(sys.argv[1]).read().strip()
if kind == 'keep':
    os.makedirs('run-result', exist_ok=True)
    open('run-result/out.txt', 'w').write('kept')
elif kind == 'say':
    print('downloading... (and failing quietly)')
`;

interface JobJson {
  id: string;
  status: string;
  requireResults: boolean;
  tasks: { index: number; status: string; error: string | null; warning: string | null }[];
}

describe('tasks that leave nothing behind', { timeout: 300_000 }, () => {
  let farm: Farm;
  let ws: string;
  before(async () => {
    farm = await startFarm({ agents: 1 });
    ws = await mkdtemp(join(tmpdir(), 'drover-empty-'));
    await writeFile(join(ws, 'task.py'), SCRIPT);
    await mkdir(join(ws, 'in'));
    for (const [name, kind] of [['1-keep', 'keep'], ['2-say', 'say'], ['3-quiet', 'quiet']]) await writeFile(join(ws, 'in', `${name}.txt`), kind!);
  });
  after(async () => {
    await farm?.stop();
    await rm(ws, { recursive: true, force: true });
  });

  const create = (extra: string[]) => farm.cli(['job', 'create', '-n', 'empty', '-s', join(ws, 'task.py'), '-i', join(ws, 'in', '*.txt'), '--max-attempts', '1', '-r', '-w', ...extra]);
  const view = async (id: string) => JSON.parse((await farm.cli(['job', 'view', id, '--json'])).stdout) as JobJson;

  test('a task that exits 0 without a result file or output is done, with a warning in the CLI and the web app', async () => {
    const r = await create([]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const id = r.stdout.match(/job (j_\S+) done/)?.[1];
    assert.ok(id, r.stdout);
    assert.match(r.stderr, /warning: 1 task\(s\) \(3\) exited 0 but wrote no file to run-result\/ and printed nothing/);

    const job = await view(id);
    assert.deepEqual(job.tasks.map((t) => t.status), ['done', 'done', 'done']);
    assert.deepEqual(job.tasks.map((t) => t.error), [null, null, null]);
    assert.equal(job.tasks[0]!.warning, null, 'a task with a result file');
    assert.equal(job.tasks[1]!.warning, null, 'a task that printed something');
    assert.match(job.tasks[2]!.warning ?? '', /wrote no file to run-result\/ and printed nothing/);
    assert.match((await farm.cli(['job', 'view', id])).stdout, /3-quiet\.txt\s+done\s.*warning: the task exited 0/);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(farm.url);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(farm.adminPassword);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('jobs-page').waitFor();
      await page.goto(`${farm.url}/#/jobs/${id}`);
      const warning = page.locator('[data-testid="task-row"][data-status="done"]').filter({ hasText: '3-quiet.txt' }).getByTestId('task-warning');
      assert.match((await warning.textContent()) ?? '', /Warning: the task exited 0 but wrote no file to run-result\//);
      assert.equal(await page.getByTestId('task-warning').count(), 1, 'only the task that left nothing');
      assert.equal(await page.getByTestId('job-network').textContent(), 'yes');
    } finally {
      await browser?.close();
    }
  });

  test('--require-results fails a task that wrote no result file, whatever it printed', async () => {
    const r = await create(['--require-results']);
    assert.notEqual(r.code, 0, 'the job ends in error');
    const id = r.stdout.match(/job (j_\S+) error/)?.[1];
    assert.ok(id, r.stdout + r.stderr);
    const job = await view(id);
    assert.equal(job.requireResults, true);
    assert.deepEqual(job.tasks.map((t) => t.status), ['done', 'error', 'error']);
    for (const t of job.tasks.slice(1)) assert.match(t.error ?? '', /wrote no file to run-result\/, and this job requires results \(--require-results\)/);
    const log = await farm.cli(['job', 'logs', id, '--task', '2']);
    assert.match(log.stdout + log.stderr, /this job requires results/);
  });
});
