// The script-job workflow of the original tutorial, end to end: a real coordinator and real agents
// as processes, real Python tasks, results downloaded and checked byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';

interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  tasks: { index: number; status: string; attempts: number; agent: string | null; input: string; error: string | null }[];
}

const TRANSFORM_SCRIPT = `
import json, os, sys
data = open(sys.argv[1]).read()
factor = int(open('factor.txt').read())
os.makedirs('run-result/nested', exist_ok=True)
open('run-result/result.txt', 'w').write(''.join(c * factor for c in data))
open('run-result/nested/meta.json', 'w').write(json.dumps({'input': sys.argv[1], 'cwd_files': sorted(os.listdir('.'))}))
json.dump(dict(os.environ), open('run-result/env.json', 'w'))
print('processed', sys.argv[1])
print('to stderr', file=sys.stderr)
`;

describe('script jobs on a real farm', { timeout: 600_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: 2 });
  });
  after(async () => farm?.stop());

  test('a Python job over many inputs with a constants file: results match byte for byte', async () => {
    const inputs: Record<string, string> = {};
    for (let i = 1; i <= 12; i++) inputs[`data/job_${i}_${i}.txt`] = `frame ${i}\nline two ${i * 7}\n`;
    const ws = await makeWorkspace({ 'render.py': TRANSFORM_SCRIPT, 'factor.txt': '3', ...inputs });
    const created = await farm.cli(['job', 'create', '-n', 'tutorial', '-s', join(ws, 'render.py'), '-i', join(ws, 'data/job_*.txt'), '-c', join(ws, 'factor.txt'), '-t', 's', '-r', '-w', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    assert.equal(job.status, 'done');
    assert.equal(job.counts.done, 12);

    const view = JSON.parse((await farm.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
    // One task per input, in natural sorted order (job_2 before job_10).
    assert.deepEqual(view.tasks.map((t) => t.input), Array.from({ length: 12 }, (_, i) => `job_${i + 1}_${i + 1}.txt`));
    assert.ok(new Set(view.tasks.map((t) => t.agent)).size >= 1);

    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    const dl = await farm.cli(['job', 'download-results', job.id, '-d', out]);
    assert.equal(dl.code, 0, dl.stderr);
    const root = join(out, job.id);
    for (let i = 1; i <= 12; i++) {
      const folder = join(root, `task-${String(i).padStart(4, '0')}`);
      const expected = [...`frame ${i}\nline two ${i * 7}\n`].map((c) => c.repeat(3)).join('');
      assert.equal(await readFile(join(folder, 'result.txt'), 'utf8'), expected);
      assert.equal(await readFile(join(folder, 'stdout.txt'), 'utf8'), `processed job_${i}_${i}.txt\n`);
      assert.equal(await readFile(join(folder, 'stderr.txt'), 'utf8'), 'to stderr\n');
      const meta = JSON.parse(await readFile(join(folder, 'nested', 'meta.json'), 'utf8')) as { cwd_files: string[] };
      assert.deepEqual(meta.cwd_files, ['factor.txt', `job_${i}_${i}.txt`, 'render.py', 'run-result']);
      const env = JSON.parse(await readFile(join(folder, 'env.json'), 'utf8')) as Record<string, string>;
      assert.equal(env.DROVER_JOB_ID, job.id);
      assert.equal(env.DROVER_TASK_INDEX, String(i));
      assert.equal(env.DROVER_ATTEMPT, '1');
      assert.equal(env.DROVER_OUTPUT_DIR, 'run-result');
      assert.ok(env.DROVER_TASK_ID?.startsWith('t_'));
      // Nothing of the agent's credentials reaches the task.
      assert.equal(env.DROVER_AGENT_TOKEN, undefined);
      assert.ok(!JSON.stringify(env).includes(farm.server.joinToken));
      assert.ok(!JSON.stringify(env).includes('drv_a_'));
    }
    const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { tasks: { input: string; status: string }[] };
    assert.equal(index.tasks.length, 12);
    assert.equal(index.tasks[1]!.input, 'job_2_2.txt');
    assert.ok(index.tasks.every((t) => t.status === 'done'));

    // The zip has the same layout.
    const zip = await farm.cli(['job', 'download-results', job.id, '-d', out, '--zip']);
    assert.equal(zip.code, 0, zip.stderr);
    const names = await listZip(join(out, `${job.id}.zip`));
    assert.ok(names.includes(`${job.id}/index.json`));
    assert.ok(names.includes(`${job.id}/task-0012/result.txt`));
    assert.ok(names.includes(`${job.id}/task-0001/nested/meta.json`));

    const logs = await farm.cli(['job', 'logs', job.id, '--task', '3']);
    assert.match(logs.stdout, /processed job_3_3\.txt/);
  });

  test('a failing task is retried, then errors, while its siblings finish', async () => {
    const ws = await makeWorkspace({
      'flaky.py': `import sys, os\nname = open(sys.argv[1]).read().strip()\nif name == 'bad':\n    print('failing on purpose, attempt', os.environ['DROVER_ATTEMPT'])\n    sys.exit(3)\nos.makedirs('run-result', exist_ok=True)\nopen('run-result/ok.txt','w').write(name)\n`,
      'in/a.txt': 'good-a',
      'in/b.txt': 'bad',
      'in/c.txt': 'good-c',
    });
    const r = await farm.cli(['job', 'create', '-n', 'flaky', '-s', join(ws, 'flaky.py'), '-i', join(ws, 'in/*.txt'), '--max-attempts', '2', '-w', '--json']);
    assert.notEqual(r.code, 0, 'a job that errors makes --wait exit non-zero');
    const job = JSON.parse(r.stdout) as JobJson;
    assert.equal(job.status, 'error');
    const view = JSON.parse((await farm.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
    const byInput = Object.fromEntries(view.tasks.map((t) => [t.input, t]));
    assert.equal(byInput['a.txt']!.status, 'done');
    assert.equal(byInput['c.txt']!.status, 'done');
    assert.equal(byInput['b.txt']!.status, 'error');
    assert.equal(byInput['b.txt']!.attempts, 2);
    assert.match(byInput['b.txt']!.error ?? '', /exited with code 3/);
    const logs = await farm.cli(['job', 'logs', job.id, '--task', '2']);
    assert.match(logs.stdout, /failing on purpose, attempt 1/);
    assert.match(logs.stdout, /failing on purpose, attempt 2/);

    // Retry queues the errored task again with a fresh allowance.
    const retry = await farm.cli(['job', 'retry', job.id]);
    assert.equal(retry.code, 0, retry.stderr);
    const again = await eventually(async () => {
      const v = JSON.parse((await farm.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
      return v.status === 'error' ? v : null;
    }, 60_000, 'the retried job to end');
    assert.equal(again.tasks.find((t) => t.input === 'b.txt')!.attempts, 4);
  });

  test('a job stopped mid-run: queued tasks never start and running processes are killed', async () => {
    // The pid a task prints is its own namespace's when it is confined, so the processes are found
    // on the host by a sleep argument unique to this run.
    const sleepArg = `60.${process.pid}${Date.now() % 100_000}`;
    const ws = await makeWorkspace({
      'slow.sh': `echo "pid $$"\nsleep ${sleepArg}\necho never\n`,
      'in/1.txt': '1',
      'in/2.txt': '2',
      'in/3.txt': '3',
      'in/4.txt': '4',
    });
    const created = JSON.parse((await farm.cli(['job', 'create', '-n', 'slow', '-s', join(ws, 'slow.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json'])).stdout) as JobJson;
    const token = await farm.adminToken();
    const pids = await eventually(async () => {
      const found: number[] = [];
      const { body } = await api<{ tasks: { id: string; status: string }[] }>(farm.url, token, 'GET', `/jobs/${created.id}/tasks`);
      for (const t of body.tasks.filter((t) => t.status === 'running')) {
        const logs = await api<{ entries: { data: string }[] }>(farm.url, token, 'GET', `/tasks/${t.id}/logs`);
        const m = logs.body.entries.map((e) => e.data).join('').match(/pid (\d+)/);
        if (m) found.push(Number(m[1]));
      }
      return found.length === 2 ? found : null;
    }, 30_000, 'two running tasks to print their pids');
    assert.equal(pids.length, 2);
    await eventually(async () => processesWithArg(sleepArg).length === 2, 10_000, 'both task processes to run on the host');
    const stop = await farm.cli(['job', 'stop', created.id]);
    assert.equal(stop.code, 0, stop.stderr);
    await eventually(async () => processesWithArg(sleepArg).length === 0, 20_000, 'the running task processes to be killed');
    const view = JSON.parse((await farm.cli(['job', 'view', created.id, '--json'])).stdout) as JobJson;
    assert.equal(view.status, 'canceled');
    assert.ok(view.tasks.every((t) => t.status === 'canceled'));
    assert.equal(view.tasks.filter((t) => t.attempts === 0).length, 2, 'the two queued tasks never started');
    // The agents are free again: a new job runs.
    const quick = await makeWorkspace({ 'q.sh': 'echo quick\n', 'x.txt': 'x' });
    const r = await farm.cli(['job', 'create', '-n', 'after-stop', '-s', join(quick, 'q.sh'), '-i', join(quick, 'x.txt'), '-w']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('two users cannot see or touch each other\'s jobs; an admin sees all', async () => {
    const alice = await farm.userCli('alice');
    const bob = await farm.userCli('bob');
    const ws = await makeWorkspace({ 'a.sh': 'mkdir -p run-result; echo secret-of-alice > run-result/s.txt\n', 'i.txt': 'i' });
    const job = JSON.parse((await alice(['job', 'create', '-n', 'alice-private', '-s', join(ws, 'a.sh'), '-i', join(ws, 'i.txt'), '-w', '--json'])).stdout) as JobJson;
    assert.equal(job.status, 'done');

    const bobList = await bob(['job', 'list', '--json']);
    assert.ok(!(JSON.parse(bobList.stdout) as JobJson[]).some((j) => j.id === job.id));
    for (const args of [['job', 'view', job.id], ['job', 'logs', job.id], ['job', 'stop', job.id], ['job', 'retry', job.id], ['job', 'download-results', job.id, '-d', ws]]) {
      const r = await bob(args);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`job ${job.id} does not exist`));
    }
    const adminList = JSON.parse((await farm.cli(['job', 'list', '--json'])).stdout) as (JobJson & { owner: string })[];
    assert.equal(adminList.find((j) => j.id === job.id)?.owner, 'alice');
    // Bob cannot use Alice's uploaded files by hash either.
    const bobToken = JSON.parse(await readFile(join(farm.dataDir, 'cli-bob.json'), 'utf8')).token as string;
    const results = await api<{ tasks: { files: { sha256: string }[] }[] }>(farm.url, await farm.adminToken(), 'GET', `/jobs/${job.id}/results`);
    const sha = results.body.tasks[0]!.files[0]!.sha256;
    const steal = await api(farm.url, bobToken, 'POST', '/jobs', { kind: 'script', name: 'x', script: { name: 'a.sh', sha256: sha }, inputs: [{ name: 'i.txt', sha256: sha }] });
    assert.equal(steal.status, 400);
    assert.equal((await api(farm.url, bobToken, 'GET', `/jobs/${job.id}/files/${sha}`)).status, 404);
    assert.equal((await api(farm.url, bobToken, 'GET', `/tasks/${job.id}`)).status, 404);
  });

  test('an agent killed with SIGKILL: its task is requeued and finishes on another agent', async () => {
    // A farm of its own so the task certainly starts on the agent we kill.
    const own = await startFarm({ agents: 1, leaseSeconds: 3 });
    try {
      const ws = await makeWorkspace({ 'work.py': "import os, sys, time\nprint('attempt', os.environ['DROVER_ATTEMPT'], flush=True)\ntime.sleep(2)\nos.makedirs('run-result', exist_ok=True)\nopen('run-result/done.txt', 'w').write('finished ' + open(sys.argv[1]).read())\n", 'in.txt': 'payload' });
      const job = JSON.parse((await own.cli(['job', 'create', '-n', 'survivor', '-s', join(ws, 'work.py'), '-i', join(ws, 'in.txt'), '-r', '--json'])).stdout) as JobJson;
      const token = await own.adminToken();
      await eventually(async () => (await api<{ tasks: { status: string }[] }>(own.url, token, 'GET', `/jobs/${job.id}/tasks`)).body.tasks[0]?.status === 'running', 20_000, 'the task to start');
      await own.agents[0]!.kill('SIGKILL');
      const second = await startAgent(own.server, { name: 'rescuer' });
      try {
        const done = await eventually(async () => {
          const v = JSON.parse((await own.cli(['job', 'view', job.id, '--json'])).stdout) as JobJson;
          return v.status === 'done' ? v : null;
        }, 60_000, 'the job to finish on the second agent');
        assert.equal(done.tasks[0]!.agent, 'rescuer');
        assert.equal(done.tasks[0]!.attempts, 2);
        const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
        assert.equal((await own.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
        assert.equal(await readFile(join(out, job.id, 'task-0001', 'done.txt'), 'utf8'), 'finished payload');
        const files = await readdir(join(out, job.id, 'task-0001'));
        assert.deepEqual(files.sort(), ['done.txt', 'stderr.txt', 'stdout.txt']);
        assert.match(await readFile(join(out, job.id, 'task-0001', 'stdout.txt'), 'utf8'), /^attempt 2\n$/);
      } finally {
        await second.kill('SIGINT');
      }
    } finally {
      await own.stop();
    }
  });
});

/** Host pids of the processes with `arg` among their arguments. */
function processesWithArg(arg: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) found.push(Number(entry));
    } catch {
      // Ended meanwhile.
    }
  }
  return found;
}

async function listZip(path: string): Promise<string[]> {
  const yauzl = await import('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on('entry', (e: { fileName: string }) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
