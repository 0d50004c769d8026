// Scheduling in the web app (issue #18), in Chromium on a real farm: priority, "run after" and
// requirements on the script, render and template forms; the job page's waiting reason (live),
// priority change and dependencies with links; the job list's waiting sentences; an admin pausing,
// resuming, labelling and removing agents; the agent a job gave up on, on both pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { PHONE, SHOTS, buildWebApp, launchChromium, layoutProblems, signIn } from '../helpers/browser.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { makeScene } from '../helpers/scenes.js';

interface JobJson {
  id: string;
  status: string;
  priority: number;
  after: string[];
  afterAny: boolean;
  cores: number;
  requirements: { memoryMiB?: number; gpus?: number; labels?: Record<string, string> } | null;
  waiting: string | null;
}
interface WorkerJson {
  name: string;
  status: string;
  paused: boolean;
  labels: Record<string, string>;
}

const TEMPLATE = `specificationVersion: jobtemplate-2023-09
name: Say hello
steps:
  - name: Say
    script:
      actions:
        onRun:
          command: bash
          args: ["-c", "echo hello"]
`;

let farm: Farm;
let browser: Browser;
let ws: string;
let token: string;
/** A job of the first test that the second one's forms run after. */
let doneJobId = '';

before(async () => {
  buildWebApp();
  mkdirSync(SHOTS, { recursive: true });
  farm = await startFarm({ agents: 1 });
  token = await farm.adminToken();
  ws = await makeWorkspace({
    'work.sh': 'sleep 1\nmkdir -p run-result\necho ok > run-result/ok.txt\n',
    'fail.sh': 'echo "fails on purpose" >&2\nexit 3\n',
    'in/a.txt': 'a',
    'in/b.txt': 'b',
    'in/c.txt': 'c',
  });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await farm?.stop();
});

async function job(id: string): Promise<JobJson> {
  const r = await api<JobJson>(farm.url, token, 'GET', `/jobs/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}

async function worker(name: string): Promise<WorkerJson | undefined> {
  return (await api<{ workers: WorkerJson[] }>(farm.url, token, 'GET', '/workers')).body.workers.find((w) => w.name === name);
}

async function newPage(viewport = { width: 1366, height: 860 }): Promise<Page> {
  const page = await (await browser.newContext({ viewport })).newPage();
  // Other developers' browsers and agents share the machine: waits are for a busy machine.
  page.setDefaultTimeout(60_000);
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}

/** Fills the script form (title, script, data files) and opens its Scheduling section. */
async function scriptForm(page: Page, title: string, script = 'work.sh'): Promise<void> {
  await page.goto(`${farm.url}/#/jobs/new`);
  await page.getByTestId('new-job-form').waitFor();
  await page.getByLabel('Job title').fill(title);
  await page.getByTestId('script-input').setInputFiles(join(ws, script));
  await page.getByTestId('data-input').setInputFiles(join(ws, 'in/a.txt'));
  await page.getByTestId('scheduling-fields').locator('summary').click();
}

/** Submits the open form and waits for the new job's page: its id. */
async function submitted(page: Page, button = 'submit-job'): Promise<string> {
  await page.getByTestId(button).click();
  await page.getByTestId('job-page').waitFor();
  return (await page.getByTestId('job-page').getAttribute('data-job-id'))!;
}

async function noLayoutProblems(page: Page, what: string): Promise<void> {
  assert.deepEqual(await layoutProblems(page), [], `${what}: layout problems`);
}

test('script jobs: priority, run after and requirements from the form; waiting live; an admin manages agents', { timeout: 600_000 }, async () => {
  const page = await newPage();
  await signIn(page, farm.url, 'admin', farm.adminPassword);

  // ---- an admin pauses the only agent from its page; the list says so
  await page.goto(`${farm.url}/#/workers/agent-1`);
  await page.getByTestId('worker-admin').waitFor();
  assert.equal(await page.getByTestId('worker-remove').isDisabled(), true, 'an online agent cannot be removed');
  await page.getByTestId('worker-pause').click();
  await page.getByTestId('worker-resume').waitFor();
  await page.getByTestId('worker-paused').waitFor();
  assert.equal((await worker('agent-1'))?.paused, true);
  await page.goto(`${farm.url}/#/workers`);
  await page.locator('[data-testid="worker-row"]', { hasText: 'agent-1' }).getByTestId('worker-paused').waitFor();

  // ---- a script job of priority 70: what is typed wrong is said, and nothing is submitted
  await scriptForm(page, 'first');
  assert.equal(await page.getByTestId('priority-input').inputValue(), '50', 'the default priority');
  await page.getByTestId('priority-input').fill('101');
  await page.getByTestId('submit-job').click();
  await page.getByTestId('error').filter({ hasText: 'The priority must be a whole number from 0 to 100' }).waitFor();
  await page.getByTestId('priority-input').fill('70');
  await page.getByTestId('labels-input').fill('gpu');
  await page.getByTestId('submit-job').click();
  await page.getByTestId('error').filter({ hasText: 'Required labels: "gpu" is not key=value' }).waitFor();
  await page.getByTestId('after-input').fill('j_doesnotexist');
  await page.getByTestId('labels-input').fill('');
  await page.getByTestId('submit-job').click();
  // the coordinator's own refusal of an unknown job, as it words it
  await page.getByTestId('error').filter({ hasText: 'j_doesnotexist' }).waitFor({ timeout: 120_000 });
  assert.equal((await api<{ total: number }>(farm.url, token, 'GET', '/jobs')).body.total, 0, 'nothing was stored');
  await page.getByTestId('after-input').fill('');
  assert.match(await page.getByTestId('scheduling-summary').innerText(), /^priority 70$/);
  const first = await submitted(page);
  assert.equal(await page.getByTestId('job-priority').textContent(), '70');
  await page.getByTestId('job-waiting-reason').filter({ hasText: 'every online agent is paused (drover worker resume NAME)' }).waitFor();
  assert.deepEqual((({ priority, after, requirements }) => ({ priority, after, requirements }))(await job(first)), { priority: 70, after: [], requirements: null });

  // ---- a second one runs after the first (picked from the list), needs 256 MiB (a cgroup limit on this machine, so enough for bash); its priority changed on its page
  await scriptForm(page, 'second');
  await page.getByTestId('after-pick').selectOption(first);
  assert.equal(await page.getByTestId('after-input').inputValue(), first);
  await page.getByTestId('memory-input').fill('256');
  await page.getByTestId('cores-input').fill('1');
  await noLayoutProblems(page, 'the script form with its scheduling fields open');
  await page.screenshot({ path: join(SHOTS, 'scheduling-form.png') });
  const second = await submitted(page);
  const dep = page.locator(`[data-testid="after-link"][data-job-id="${first}"]`);
  await dep.filter({ hasText: 'first' }).waitFor();
  assert.equal(await dep.getAttribute('href'), `#/jobs/${first}`);
  await page.getByTestId('job-waiting-reason').filter({ hasText: `waiting for job ${first}` }).waitFor();
  assert.equal(await page.getByTestId('job-waiting-reason').getByTestId('waiting-job-link').getAttribute('href'), `#/jobs/${first}`);
  assert.deepEqual(await page.getByTestId('job-requirements').locator('.label').allInnerTexts(), ['256 MiB memory']);
  await page.getByTestId('job-priority-input').fill('80');
  await page.getByTestId('job-priority-save').click();
  await page.getByTestId('job-priority').filter({ hasText: /^80$/ }).waitFor();
  assert.deepEqual((({ priority, after, afterAny, cores, requirements }) => ({ priority, after, afterAny, cores, requirements }))(await job(second)), {
    priority: 80,
    after: [first],
    afterAny: false,
    cores: 1,
    requirements: { memoryMiB: 256 },
  });
  // A priority out of range is refused in the page.
  await page.getByTestId('job-priority-input').fill('300');
  await page.getByTestId('job-priority-save').click();
  await page.getByTestId('job-priority-error').filter({ hasText: '0 to 100' }).waitFor();
  assert.equal((await job(second)).priority, 80);
  await noLayoutProblems(page, 'the job page of a held job');
  await page.screenshot({ path: join(SHOTS, 'scheduling-job-waiting.png') });

  // ---- the job list says why each one waits
  await page.goto(`${farm.url}/#/jobs`);
  const row = (id: string) => page.locator(`[data-testid="job-row"][data-job-id="${id}"]`);
  await row(first).getByTestId('job-waiting').filter({ hasText: 'every online agent is paused' }).waitFor();
  await row(second).getByTestId('job-waiting').filter({ hasText: `waiting for job ${first}` }).waitFor();
  await noLayoutProblems(page, 'the job list');

  // ---- resumed from the Workers list, the agent runs both; the second's page, open in another tab, follows without a reload
  const watch = await page.context().newPage();
  watch.setDefaultTimeout(60_000);
  await watch.goto(`${farm.url}/#/jobs/${second}`);
  await watch.getByTestId('job-waiting-reason').filter({ hasText: `waiting for job ${first}` }).waitFor();
  await page.goto(`${farm.url}/#/workers`);
  const agentRow = page.locator('[data-testid="worker-row"]', { hasText: 'agent-1' });
  await agentRow.getByTestId('worker-row-resume').click();
  await agentRow.getByTestId('worker-row-pause').waitFor();
  await agentRow.getByTestId('worker-paused').waitFor({ state: 'detached' });
  assert.equal((await worker('agent-1'))?.paused, false);
  await watch.locator('[data-testid="job-status"][data-status="done"]').waitFor({ timeout: 180_000 });
  await watch.getByTestId('job-waiting-reason').waitFor({ state: 'detached' });
  await watch.locator(`[data-testid="after-link"][data-job-id="${first}"][data-status="done"]`).waitFor();
  assert.equal(await watch.getByTestId('job-priority-input').count(), 0, 'an ended job\'s priority is shown, not offered to change');
  assert.equal(await watch.getByTestId('job-priority').textContent(), '80');
  await watch.close();
  doneJobId = second;

  // ---- a job needing a label no agent has says so; an admin labels the agent from its page and it runs
  await scriptForm(page, 'needs tier');
  await page.getByTestId('labels-input').fill('tier=gpu');
  const tiered = await submitted(page);
  await page.getByTestId('job-waiting-reason').filter({ hasText: 'no online agent has tier=gpu' }).waitFor();
  await page.goto(`${farm.url}/#/workers/agent-1`);
  await page.getByTestId('worker-label-input').fill('tier=gpu site=lab');
  await page.getByTestId('worker-label-save').click();
  await page.getByTestId('worker-label').filter({ hasText: 'tier=gpu' }).waitFor();
  assert.deepEqual((await worker('agent-1'))?.labels, { tier: 'gpu', site: 'lab' });
  await eventually(async () => (await job(tiered)).status === 'done', 120_000, 'the labelled job to run');
  await page.getByTestId('worker-label').filter({ hasText: 'tier=gpu' }).getByTestId('worker-label-remove').click();
  await page.getByTestId('worker-label').filter({ hasText: 'tier=gpu' }).waitFor({ state: 'detached' });
  assert.deepEqual((await worker('agent-1'))?.labels, { site: 'lab' });
  await page.getByTestId('worker-label-input').fill('=x');
  await page.getByTestId('worker-label-save').click();
  await page.getByTestId('error').filter({ hasText: '"=x" is not key=value' }).waitFor();

  // ---- a job failing on the only agent: its page names the agent it gave up on, the agent's page the job
  const failing = await farm.cli(['job', 'create', '-n', 'always-fails', '-s', join(ws, 'fail.sh'), '-i', join(ws, 'in/*.txt'), '-r', '-w']);
  assert.notEqual(failing.code, 0);
  const failedId = /job (j[\w-]+)/.exec(failing.stderr)![1]!;
  await page.goto(`${farm.url}/#/jobs/${failedId}`);
  await page.getByTestId('job-blocked-agents').filter({ hasText: 'agent-1' }).getByRole('link').click();
  await page.getByTestId('worker-page').waitFor();
  await page.getByTestId('worker-blocked').filter({ hasText: 'always-fails' }).waitFor();
  await page.locator('[data-testid="worker-attempt"][data-status="error"]', { hasText: 'always-fails' }).first().waitFor();
  await noLayoutProblems(page, 'the agent page with its admin controls');
  await page.screenshot({ path: join(SHOTS, 'scheduling-worker.png') });

  // ---- an agent that stopped is removed from the list
  const spare = await startAgent(farm.server, { name: 'spare' });
  farm.agents.push(spare);
  await spare.kill('SIGINT');
  await eventually(async () => (await worker('spare'))?.status === 'offline', 60_000, 'the spare agent to be offline');
  await page.goto(`${farm.url}/#/workers/spare`);
  await page.getByTestId('worker-remove').click();
  await page.getByTestId('workers-page').waitFor();
  await page.locator('[data-testid="worker-row"]', { hasText: 'agent-1' }).waitFor();
  assert.equal(await page.locator('[data-testid="worker-row"]', { hasText: 'spare' }).count(), 0);
  assert.equal(await worker('spare'), undefined);

  // ---- a user who is not an admin sees agents, not the controls; and sets their own job's priority
  const bobCli = await farm.userCli('bob');
  const bobJob = await bobCli(['job', 'create', '-n', 'bob held', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/a.txt'), '--json']);
  assert.equal(bobJob.code, 0, bobJob.stderr);
  const bobJobId = (JSON.parse(bobJob.stdout) as JobJson).id;
  const bob = await newPage();
  await signIn(bob, farm.url, 'bob', 'bob-password');
  await bob.goto(`${farm.url}/#/workers/agent-1`);
  await bob.getByTestId('worker-page').waitFor();
  assert.equal(await bob.getByTestId('worker-admin').count(), 0);
  await bob.goto(`${farm.url}/#/jobs/${bobJobId}`);
  await bob.getByTestId('job-waiting-reason').filter({ hasText: `not started: drover job start ${bobJobId} queues it` }).waitFor();
  await bob.getByTestId('job-priority-input').fill('5');
  await bob.getByTestId('job-priority-save').click();
  await bob.getByTestId('job-priority').filter({ hasText: /^5$/ }).waitFor();
  assert.equal((await job(bobJobId)).priority, 5);
});

test('render and template forms send priority, run after and requirements', { timeout: 600_000 }, async () => {
  assert.ok(doneJobId, 'the first test left a finished job to run after');
  const page = await newPage();
  await signIn(page, farm.url, 'admin', farm.adminPassword);

  // ---- render: created, not started; it runs after a job whatever way it ends, on an agent labelled os=linux
  const blend = await makeScene(join(ws, 'scene'), { frames: [1, 2] });
  await page.goto(`${farm.url}/#/jobs/new?kind=render`);
  await page.getByTestId('new-render-form').waitFor();
  await page.getByTestId('project-file-input').setInputFiles(blend);
  await page.getByTestId('blend-chosen').waitFor();
  await page.getByTestId('scheduling-fields').locator('summary').click();
  await page.getByTestId('priority-input').fill('20');
  await page.getByTestId('after-input').fill(doneJobId);
  await page.getByTestId('after-any').check();
  await page.getByTestId('gpus-input').fill('0');
  await page.getByTestId('labels-input').fill('os=linux');
  await page.getByTestId('start-now').uncheck();
  const render = await submitted(page);
  await page.getByTestId('job-waiting-reason').filter({ hasText: `not started: drover job start ${render}` }).waitFor();
  await page.locator(`[data-testid="after-link"][data-job-id="${doneJobId}"][data-status="done"]`).waitFor();
  assert.match(await page.getByTestId('job-after').innerText(), /whatever way they end/);
  assert.deepEqual((({ status, priority, after, afterAny, requirements }) => ({ status, priority, after, afterAny, requirements }))(await job(render)), {
    status: 'created',
    priority: 20,
    after: [doneJobId],
    afterAny: true,
    requirements: { labels: { os: 'linux' } },
  });

  // ---- template: priority 90 and a label no agent has, so it waits and says why
  writeFileSync(join(ws, 'hello.yaml'), TEMPLATE);
  await page.goto(`${farm.url}/#/jobs/new?kind=template`);
  await page.getByTestId('new-template-form').waitFor();
  await page.getByTestId('template-input').setInputFiles(join(ws, 'hello.yaml'));
  await page.getByTestId('template-summary').waitFor();
  await page.getByTestId('scheduling-fields').locator('summary').click();
  await page.getByTestId('priority-input').fill('90');
  await page.getByTestId('labels-input').fill('tier=render');
  const template = await submitted(page, 'submit-template');
  await page.getByTestId('job-waiting-reason').filter({ hasText: 'no online agent has tier=render' }).waitFor();
  assert.equal(await page.getByTestId('job-priority').textContent(), '90');
  assert.deepEqual((({ priority, requirements }) => ({ priority, requirements }))(await job(template)), { priority: 90, requirements: { labels: { tier: 'render' } } });

  // ---- on a phone, the scheduling panel and the agent's controls fit the screen
  const phone = await newPage(PHONE);
  await signIn(phone, farm.url, 'admin', farm.adminPassword);
  await phone.goto(`${farm.url}/#/jobs/${render}`);
  await phone.getByTestId('job-after').waitFor();
  await noLayoutProblems(phone, 'the job page on a phone');
  await phone.goto(`${farm.url}/#/jobs/new`);
  await phone.getByTestId('scheduling-fields').locator('summary').click();
  await noLayoutProblems(phone, 'the script form on a phone');
  await phone.goto(`${farm.url}/#/workers/agent-1`);
  await phone.getByTestId('worker-admin').waitFor();
  await noLayoutProblems(phone, 'the agent page on a phone');
  await api(farm.url, token, 'POST', `/jobs/${template}/stop`);
});
