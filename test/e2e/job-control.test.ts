// Acting on jobs and tasks once they exist: archive, per-task stop and retry (a done task rerun
// delivers a new result, never the old one), and one action on many jobs at once, on a real farm.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, ADMIN_PASSWORD, api, eventually, jobJson, startFarm } from '../helpers/farm.js';
import { makeWorkspace as workspace } from '../helpers/reliability.js';
import { buildWebApp, launchChromium, signIn } from '../helpers/browser.js';
import { makeScene } from '../helpers/scenes.js';

interface TaskJson {
  index: number;
  status: string;
  attempts: number;
  input: string;
}
interface JobJson {
  id: string;
  name: string;
  status: string;
  archivedAt: string | null;
  counts: Record<string, number>;
  tasks: TaskJson[];
}
interface ActionsJson {
  action: string;
  results: { id: string; ok: boolean; status: string | null; archived: boolean; error: string | null }[];
}

// Each run writes a fresh stamp: a rerun's result differs from the first one's.
const STAMP_SCRIPT = `
import os, sys, time, uuid
name = os.path.basename(sys.argv[1])
if 'slow' in name:
    time.sleep(120)
os.makedirs('run-result', exist_ok=True)
open('run-result/stamp.txt', 'w').write(name + ' ' + uuid.uuid4().hex)
print('stamped', name)
`;

describe('job and task control', { timeout: 600_000 }, () => {
  let farm: Farm;
  let ws: string;
  before(async () => {
    farm = await startFarm({ agents: 1, slots: 2 });
    ws = await workspace({ 'stamp.py': STAMP_SCRIPT, 'in/a1.txt': 'a', 'in/a2.txt': 'b', 'in/a3.txt': 'c', 'in/a4.txt': 'd', 'slow/s1.txt': 'x', 'slow/s2_slow.txt': 'y' });
  });
  after(async () => farm?.stop());

  // Polled while tests wait: read over the API (jobJson); the CLI's view is asserted where it is the subject.
  const view = (id: string) => jobJson<JobJson>(farm, id);
  const runJob = async (name: string, inputs: string, extra: string[] = ['-w']) => {
    const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, 'stamp.py'), '-i', join(ws, inputs), ...extra, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  };
  const stamps = async (id: string) => {
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    const dl = await farm.cli(['job', 'download-results', id, '-d', out]);
    assert.equal(dl.code, 0, dl.stderr);
    const result: Record<number, string> = {};
    for (const t of (await view(id)).tasks) result[t.index] = await readFile(join(out, id, `task-${String(t.index).padStart(4, '0')}`, 'stamp.txt'), 'utf8');
    return result;
  };
  const metricsJobs = async (status: string) => {
    const text = await (await fetch(`${farm.url}/metrics`)).text();
    return Number(new RegExp(`^drover_jobs\\{status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  };
  // /metrics reads the store at most every 2 s (STORE_READ_CACHE_MS): a change shows by the next reading.
  const metricsShow = (status: string, count: number) => eventually(async () => (await metricsJobs(status)) === count, 10_000, `/metrics to count ${count} ${status} jobs`);

  test('archive: the job leaves lists, counts and /metrics but keeps everything; unarchive brings it back', async () => {
    const kept = await runJob('archive-kept', 'in/a1.txt');
    const archived = await runJob('archive-me', 'in/a2.txt');
    const token = await farm.adminToken();
    const before = (await api<{ countsByStatus: Record<string, number> }>(farm.url, token, 'GET', '/jobs')).body.countsByStatus;
    await new Promise((resolve) => setTimeout(resolve, 2100)); // a reading of the store made after both jobs ended
    const doneBefore = await metricsJobs('done');

    // Another user cannot archive it, nor learn that it exists.
    const bob = await farm.userCli('bob');
    const refused = await bob(['job', 'archive', archived.id]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`job ${archived.id} does not exist`));
    const bobToken = JSON.parse(await readFile(join(farm.dataDir, 'cli-bob.json'), 'utf8')).token as string;
    assert.equal((await api(farm.url, bobToken, 'POST', `/jobs/${archived.id}/archive`)).status, 404);

    const r = await farm.cli(['job', 'archive', archived.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`job ${archived.id}: archived`));
    const list = JSON.parse((await farm.cli(['job', 'list', '--json'])).stdout) as JobJson[];
    assert.ok(list.some((j) => j.id === kept.id));
    assert.ok(!list.some((j) => j.id === archived.id), 'archived jobs are not in the default list');
    const archivedList = JSON.parse((await farm.cli(['job', 'list', '--archived', '--json'])).stdout) as JobJson[];
    assert.deepEqual(archivedList.map((j) => j.id), [archived.id]);
    const afterCounts = (await api<{ countsByStatus: Record<string, number> }>(farm.url, token, 'GET', '/jobs')).body.countsByStatus;
    assert.equal(afterCounts.done, before.done! - 1);
    assert.equal(afterCounts.all, before.all! - 1);
    await metricsShow('done', doneBefore - 1);

    // Everything is kept: the job, its tasks and its results.
    const v = await view(archived.id);
    assert.equal(v.status, 'done');
    assert.ok(v.archivedAt);
    assert.match((await stamps(archived.id))[1]!, /^a2\.txt /);
    assert.match((await farm.cli(['job', 'logs', archived.id])).stdout, /stamped a2\.txt/);

    // Archiving twice, or a job still at work, is refused with the reason.
    const again = await farm.cli(['job', 'archive', archived.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /archived already/);

    const un = await farm.cli(['job', 'unarchive', archived.id, '--json']);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual((JSON.parse(un.stdout) as ActionsJson).results, [{ id: archived.id, ok: true, status: 'done', archived: false, error: null }]);
    assert.ok((JSON.parse((await farm.cli(['job', 'list', '--json'])).stdout) as JobJson[]).some((j) => j.id === archived.id));
    await metricsShow('done', doneBefore);

    // Rerunning a task of an archived job brings the job back into sight.
    assert.equal((await farm.cli(['job', 'archive', archived.id])).code, 0);
    const rerun = await farm.cli(['job', 'retry', archived.id, '--task', '1']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal((await view(archived.id)).archivedAt, null);
    await eventually(async () => (await view(archived.id)).status === 'done', 60_000, 'the rerun to finish');
  });

  test('per-task retry reruns only the chosen tasks, done ones too, with new results; the job follows', async () => {
    const job = await runJob('per-task', 'in/a*.txt');
    assert.equal(job.status, 'done');
    const first = await stamps(job.id);

    const bad = await farm.cli(['job', 'retry', job.id, '--task', '2,9']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /has no task 9 \(its tasks are numbered 1 to 4\)/);
    const bob = await farm.userCli('bob');
    assert.match((await bob(['job', 'retry', job.id, '--task', '2'])).stderr, new RegExp(`job ${job.id} does not exist`));

    const r = await farm.cli(['job', 'retry', job.id, '--task', '2-3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /requeued task\(s\) 2, 3/);
    const again = await eventually(async () => {
      const v = await view(job.id);
      return v.status === 'done' ? v : null;
    }, 60_000, 'the rerun tasks to finish');
    assert.deepEqual(again.tasks.map((t) => t.attempts), [1, 2, 2, 1]);
    const second = await stamps(job.id);
    assert.equal(second[1], first[1]);
    assert.equal(second[4], first[4]);
    for (const i of [2, 3]) {
      assert.notEqual(second[i], first[i], `task ${i} delivered a new result`);
      assert.match(second[i]!, new RegExp(`^a${i}\\.txt [0-9a-f]{32}$`));
    }
  });

  test('per-task stop cancels only the chosen running task; the others finish', async () => {
    const job = await runJob('per-task-stop', 'slow/*.txt', ['-r']);
    await eventually(async () => {
      const v = await view(job.id);
      return v.tasks.find((t) => t.index === 2)?.status === 'running' && v.tasks.find((t) => t.index === 1)?.status === 'done';
    }, 60_000, 'the slow task to run and the other to finish');
    const r = await farm.cli(['job', 'stop', job.id, '--task', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { tasks: number[] }).tasks, [2]);
    const ended = await eventually(async () => {
      const v = await view(job.id);
      return v.status === 'error' ? v : null;
    }, 30_000, 'the job to end');
    assert.deepEqual(ended.tasks.map((t) => t.status), ['done', 'canceled']);
    const nothing = await farm.cli(['job', 'stop', job.id, '--task', '1']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /nothing to stop/);
  });

  test('render jobs: --frames reruns the chunk rendering them, and the preview is made again of the new frames', async () => {
    const project = join(ws, 'render-project');
    await makeScene(project, { frames: [1, 4], resolution: [64, 48], samples: 2 });
    const r = await farm.cli(['render', project, '--frames', '1-4', '--chunk', '2', '-w', '--json'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson & { render: { preview: { status: string } | null; previewTask: { attempts: number } } };
    assert.equal(job.status, 'done');
    const wrong = await farm.cli(['job', 'retry', job.id, '--frames', '9']);
    assert.match(wrong.stderr, /renders none of the frames 9/);
    const retry = await farm.cli(['job', 'retry', job.id, '--frames', '3']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /requeued task\(s\) 2;/);
    const again = await eventually(async () => {
      const v = (await api<typeof job>(farm.url, await farm.adminToken(), 'GET', `/jobs/${job.id}`)).body;
      return v.status === 'done' && v.render.preview?.status === 'ready' ? v : null;
    }, 180_000, 'the chunk and the preview to be made again');
    assert.equal(again.render.previewTask.attempts, 2, 'the preview was made again');
    const tasks = (await view(job.id)).tasks;
    assert.deepEqual(tasks.map((t) => t.attempts), [1, 2]);
  });

  test('template jobs: one task of a step reruns; the other steps are untouched', async () => {
    const template = join(ws, 'steps.yaml');
    await writeFile(
      template,
      `specificationVersion: jobtemplate-2023-09
name: steps
steps:
  - name: Make
    parameterSpace:
      taskParameterDefinitions:
        - {name: N, type: INT, range: "1-3"}
    script:
      actions:
        onRun: {command: bash, args: ["-c", "echo made {{Task.Param.N}}"]}
  - name: After
    dependencies: [{dependsOn: Make}]
    script:
      actions:
        onRun: {command: "true"}
`,
    );
    const r = await farm.cli(['job', 'submit', template, '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    const retry = await farm.cli(['job', 'retry', job.id, '--task', '2']);
    assert.equal(retry.code, 0, retry.stderr);
    const again = await eventually(async () => {
      const v = await view(job.id);
      return v.status === 'done' && v.tasks.every((t) => t.status === 'done') ? v : null;
    }, 60_000, 'the rerun template task to finish');
    assert.deepEqual(again.tasks.map((t) => t.attempts), [1, 2, 1, 1]);
    assert.match((await farm.cli(['job', 'logs', job.id, '--task', '2'])).stdout, /made 2[\s\S]*made 2/);
  });

  test('bulk actions: several ids or a filter, each job answered on its own', async () => {
    const made = [];
    for (let i = 1; i <= 3; i++) made.push(await runJob(`bulk-${i}`, 'in/a1.txt', []));
    const ids = made.map((j) => j.id);
    assert.ok(made.every((j) => j.status === 'created'));

    const started = await farm.cli(['job', 'start', '--name-contains', 'BULK-', '--json']);
    assert.equal(started.code, 0, started.stderr);
    const startedJson = JSON.parse(started.stdout) as ActionsJson;
    assert.equal(startedJson.action, 'start');
    assert.deepEqual(startedJson.results.map((x) => x.id).sort(), [...ids].sort());
    assert.ok(startedJson.results.every((x) => x.ok && x.error === null));
    for (const id of ids) await eventually(async () => (await view(id)).status === 'done', 60_000, `job ${id} to finish`);

    // Several ids, one of them unknown: the others are done, the unknown one said, exit 1.
    const mixed = await farm.cli(['job', 'archive', ids[0]!, 'nosuchjob', ids[1]!]);
    assert.equal(mixed.code, 1);
    assert.match(mixed.stdout, new RegExp(`job ${ids[0]}: archived, done`));
    assert.match(mixed.stdout, new RegExp(`job ${ids[1]}: archived, done`));
    assert.match(mixed.stderr, /job nosuchjob does not exist/);
    assert.match(mixed.stderr, /1 of 3 job\(s\) were not archived/);

    // Filters: by status and age, on what the list shows (archived jobs only for unarchive).
    const unarchived = JSON.parse((await farm.cli(['job', 'unarchive', '--name-contains', 'bulk-', '--older-than', '1s', '--json'])).stdout) as ActionsJson;
    assert.deepEqual(unarchived.results.map((x) => x.id).sort(), [ids[0], ids[1]].sort());
    const none = await farm.cli(['job', 'archive', '--name-contains', 'bulk-', '--older-than', '30d']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /no job matches/);
    const neither = await farm.cli(['job', 'archive', ids[0]!, '--status', 'done']);
    assert.equal(neither.code, 1);
    assert.match(neither.stderr, /not both/);

    // Another user's filter matches only their own jobs; by id, admin's jobs do not exist for them.
    const bob = await farm.userCli('bob');
    const bobs = JSON.parse((await bob(['job', 'archive', '--status', 'done', '--json'])).stdout) as ActionsJson;
    assert.deepEqual(bobs.results, []);
    const bobById = JSON.parse((await bob(['job', 'stop', ids[2]!, '--json'])).stdout) as ActionsJson;
    assert.deepEqual(bobById.results, [{ id: ids[2], ok: false, status: null, archived: false, error: `job ${ids[2]} does not exist` }]);
  });

  test('web: rerun a task, a selection of tasks; select jobs in the list and start, archive and delete them', async () => {
    buildWebApp();
    const job = await runJob('web-tasks', 'in/a*.txt');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      page.on('dialog', (d) => void d.accept());
      await signIn(page, farm.url, 'admin', ADMIN_PASSWORD);

      // A selection of tasks: 2 and 4, rerun.
      await page.goto(`${farm.url}/#/jobs/${job.id}`);
      await page.getByTestId('task-row').first().waitFor();
      await page.locator('[data-testid="task-row"]:nth-child(2) [data-testid="task-pick"]').check();
      await page.locator('[data-testid="task-row"]:nth-child(4) [data-testid="task-pick"]').check();
      await page.getByTestId('tasks-retry').click();
      await page.getByTestId('task-action-notice').getByText('Requeued task(s) 2, 4.').waitFor();
      const rerun = await eventually(async () => {
        const v = await view(job.id);
        return v.status === 'done' && v.tasks.every((t) => t.status === 'done') ? v : null;
      }, 60_000, 'the rerun tasks to finish');
      assert.deepEqual(rerun.tasks.map((t) => t.attempts), [1, 2, 1, 2]);

      // One task, from its drawer.
      await page.locator('[data-testid="task-row"]:nth-child(3)').click();
      await page.getByTestId('task-rerun').click();
      await page.getByTestId('task-action-notice').getByText('Requeued task(s) 3.').waitFor();
      await eventually(async () => (await view(job.id)).tasks[2]!.attempts === 2 && (await view(job.id)).status === 'done', 60_000, 'task 3 to rerun');

      // The job list: select, start, archive (they leave the list), delete from the archived tab.
      const made = [await runJob('webbulk-1', 'in/a1.txt', []), await runJob('webbulk-2', 'in/a2.txt', [])];
      await page.goto(`${farm.url}/#/jobs?q=webbulk`);
      const rows = page.locator('[data-testid="job-row"]');
      await eventually(async () => (await rows.count()) === 2, 20_000, 'the two jobs listed');
      await page.getByTestId('job-pick-all').check();
      await page.getByTestId('jobs-start').click();
      await page.getByTestId('job-action-notice').getByText('Start: 2 job(s) done.').waitFor();
      for (const j of made) await eventually(async () => (await view(j.id)).status === 'done', 60_000, `job ${j.id} to finish`);
      await page.getByTestId('job-pick-all').check();
      await page.getByTestId('jobs-archive').click();
      await page.getByTestId('job-action-notice').getByText('Archive: 2 job(s) done.').waitFor();
      await eventually(async () => (await rows.count()) === 0, 20_000, 'archived jobs to leave the list');
      await page.goto(`${farm.url}/#/jobs?status=archived&q=webbulk`);
      await eventually(async () => (await rows.count()) === 2, 20_000, 'the archived tab to list them');
      await page.locator('[data-testid="job-row"]').first().getByTestId('job-pick').check();
      await page.getByTestId('jobs-delete').click();
      await page.getByTestId('job-action-notice').getByText('Delete: 1 job(s) done.').waitFor();
      await eventually(async () => (await rows.count()) === 1, 20_000, 'the deleted job to leave the list');
      const token = await farm.adminToken();
      const gone = await Promise.all(made.map(async (j) => (await api(farm.url, token, 'GET', `/jobs/${j.id}`)).status));
      assert.deepEqual(gone.sort(), [200, 404]);
    } finally {
      await browser.close();
    }
  });
});
