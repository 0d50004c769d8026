// Tasks in containers, end to end with real podman: users name their images, jobs run in the one
// they name (or the user's default), the task sees the same contract inside the container as
// outside, has no network unless asked, and no container outlives its task or its agent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Farm, api, eventually, startAgent, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';
import { ensureTestImage } from '../helpers/images.js';

const exec = promisify(execFile);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface JobJson {
  id: string;
  status: string;
  image: string | null;
  tasks: { index: number; status: string; error: string | null }[];
}

/** IDs of containers (running or not) carrying a label, straight from podman. */
async function containersWith(label: string): Promise<string[]> {
  const { stdout } = await exec('podman', ['--runtime', '/usr/sbin/runc', 'ps', '--all', '--quiet', '--filter', `label=${label}`]);
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

const PROBE_SCRIPT = `
import json, os, socket, sys
ifaces = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:])
try:
    socket.create_connection(('10.255.255.1', 9), timeout=3).close()
    net = 'connected'
except OSError as e:
    net = type(e).__name__
os.makedirs('run-result', exist_ok=True)
json.dump({
    'cwd': os.getcwd(),
    'files': sorted(os.listdir('.')),
    'input': open(sys.argv[1]).read(),
    'argv': sys.argv[1:],
    'uid': os.getuid(),
    'ifaces': ifaces,
    'net': net,
    'env': {k: v for k, v in os.environ.items() if k.startswith('DROVER_') or k in ('HOME', 'TMPDIR')},
    'in_container': os.path.exists('/run/.containerenv') or os.path.exists('/.dockerenv'),
}, open('run-result/probe.json', 'w'))
print('probe done')
`;

describe('tasks in containers (podman)', { timeout: 300_000 }, () => {
  let farm: Farm;
  let python: string;
  let busybox: string;

  before(async () => {
    [python, busybox] = await Promise.all([ensureTestImage('python'), ensureTestImage('busybox')]);
    farm = await startFarm({ agents: 1, slots: 2, agentArgs: ['--engine', 'podman'] });
  });
  after(async () => farm?.stop());

  test('images are named per user; a default applies to jobs that name none', async () => {
    const carol = await farm.userCli('carol');
    const dave = await farm.userCli('dave');
    const carolToken = await tokenOf('carol');
    const daveToken = await tokenOf('dave');
    assert.equal((await carol(['image', 'add', 'py', python])).code, 0);
    const bad = await api(farm.url, carolToken, 'POST', '/images', { name: 'evil', ref: '--privileged' });
    assert.equal(bad.status, 400, 'a ref that the engine would read as an option is refused');
    assert.equal((await api(farm.url, carolToken, 'POST', '/images', { name: 'Bad Name', ref: python })).status, 400);
    const dup = await api(farm.url, carolToken, 'POST', '/images', { name: 'py', ref: busybox });
    assert.equal(dup.status, 409);
    assert.equal((await carol(['image', 'add', 'bb', busybox, '--default'])).code, 0);
    const list = await carol(['image', 'list']);
    assert.match(list.stdout, /NAME\s+REF\s+DEFAULT[\s\S]*bb\s+\S+\s+yes[\s\S]*py\s/);
    const images = async (token: string) => (await api<{ images: { name: string; ref: string; default: boolean }[] }>(farm.url, token, 'GET', '/images')).body.images;
    assert.deepEqual((await images(carolToken)).map((i) => [i.name, i.ref, i.default]), [['bb', busybox, true], ['py', python, false]]);

    // Dave sees none of Carol's images and cannot remove them.
    assert.deepEqual(await images(daveToken), []);
    const steal = await dave(['image', 'remove', 'py']);
    assert.notEqual(steal.code, 0);
    assert.match(steal.stderr, /image "py" does not exist/);

    // Jobs: the first through the CLI (which uploads the files), the others straight to the API.
    const ws = await makeWorkspace({ 's.py': 'print(1)\n', 'i.txt': 'x' });
    const first = JSON.parse((await carol(['job', 'create', '-n', 'img', '-s', join(ws, 's.py'), '-i', join(ws, 'i.txt'), '--json'])).stdout) as JobJson;
    assert.equal(first.image, busybox, 'the default image');
    assert.equal((await dave(['job', 'create', '-n', 'img', '-s', join(ws, 's.py'), '-i', join(ws, 'i.txt'), '--json'])).code, 0);
    const files = { script: { name: 's.py', sha256: sha256('print(1)\n') }, inputs: [{ name: 'i.txt', sha256: sha256('x') }] };
    const imageOf = async (token: string, image?: string) => {
      const r = await api<JobJson>(farm.url, token, 'POST', '/jobs', { kind: 'script', name: 'img', ...files, ...(image ? { image } : {}) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.image;
    };
    assert.equal(await imageOf(carolToken, 'py'), python, 'a name stands for its ref');
    assert.equal(await imageOf(carolToken, 'docker.io/library/alpine:3'), 'docker.io/library/alpine:3', 'anything else is a ref');
    assert.equal(await imageOf(daveToken, 'py'), 'py', 'Dave has no image named py');
    assert.equal(await imageOf(daveToken), null, 'no default: a host task');
    assert.equal((await api(farm.url, carolToken, 'POST', '/jobs', { kind: 'script', name: 'img', ...files, image: '--privileged' })).status, 400);

    // A new default replaces the old one; a removed image no longer applies.
    assert.equal((await api(farm.url, carolToken, 'POST', '/images', { name: 'py2', ref: python, default: true })).status, 201);
    assert.deepEqual((await images(carolToken)).filter((i) => i.default).map((i) => i.name), ['py2']);
    assert.equal((await carol(['image', 'remove', 'py2'])).code, 0);
    assert.equal(await imageOf(carolToken), null);
  });

  test('a script job in an image: /local is its working dir, it reads its input, writes results, and --no-network cuts the network', async () => {
    assert.equal((await farm.cli(['image', 'add', 'python', python])).code, 0);
    const ws = await makeWorkspace({ 'probe.py': PROBE_SCRIPT, 'data/in-1.txt': 'hello from input 1' });
    const r = await farm.cli(['job', 'create', '-n', 'probe', '-s', join(ws, 'probe.py'), '-i', join(ws, 'data/in-1.txt'), '--image', 'python', '--no-network', '--max-attempts', '1', '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const job = JSON.parse(r.stdout) as JobJson;
    assert.equal(job.status, 'done');
    assert.equal(job.image, python);

    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const probe = JSON.parse(await readFile(join(out, job.id, 'task-0001', 'probe.json'), 'utf8')) as Record<string, unknown> & { env: Record<string, string> };
    assert.equal(probe.cwd, '/local');
    assert.deepEqual(probe.files, ['in-1.txt', 'probe.py', 'run-result']);
    assert.equal(probe.input, 'hello from input 1');
    assert.deepEqual(probe.argv, ['in-1.txt']);
    assert.equal(probe.in_container, true);
    assert.notEqual(probe.uid, 0, 'the task does not run as root');
    assert.deepEqual(probe.ifaces, ['lo']);
    assert.notEqual(probe.net, 'connected');
    assert.equal(probe.env.DROVER_JOB_ID, job.id);
    assert.equal(probe.env.DROVER_TASK_INDEX, '1');
    assert.equal(probe.env.DROVER_OUTPUT_DIR, 'run-result');
    assert.equal(probe.env.TMPDIR, '/local');
    assert.equal(await readFile(join(out, job.id, 'task-0001', 'stdout.txt'), 'utf8'), 'probe done\n');

    const [taskId] = await taskIds(job.id);
    assert.match(await taskLogText(taskId!), /running in container drover-t_\S+-1 \(podman, image \S+, no network\)/);
    assert.deepEqual(await containersWith(`drover.task=${taskId}`), [], 'the finished container is gone');
  });

  test('a script job in an image has the network by default, as on the host', async () => {
    const ws = await makeWorkspace({ 'probe.py': PROBE_SCRIPT, 'i.txt': 'net' });
    const r = await farm.cli(['job', 'create', '-n', 'net', '-s', join(ws, 'probe.py'), '-i', join(ws, 'i.txt'), '--image', python, '--max-attempts', '1', '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as JobJson & { network: boolean };
    assert.equal(job.network, true);
    const [taskId] = await taskIds(job.id);
    assert.match(await taskLogText(taskId!), /running in container drover-t_\S+-1 \(podman, image \S+, with network\)/);
    const out = await mkdtemp(join(tmpdir(), 'drover-results-'));
    assert.equal((await farm.cli(['job', 'download-results', job.id, '-d', out])).code, 0);
    const probe = JSON.parse(await readFile(join(out, job.id, 'task-0001', 'probe.json'), 'utf8')) as { ifaces: string[] };
    assert.ok(probe.ifaces.some((i) => i !== 'lo'), `an interface beyond loopback: ${probe.ifaces.join(', ')}`);
  });

  test('an image that cannot be found is a clear task error', async () => {
    const ws = await makeWorkspace({ 's.py': 'print(1)\n', 'i.txt': 'x' });
    const started = Date.now();
    const r = await farm.cli(['job', 'create', '-n', 'missing', '-s', join(ws, 's.py'), '-i', join(ws, 'i.txt'), '--image', 'localhost/drover-no-such-image:missing', '--max-attempts', '1', '-r', '-w', '--json']);
    assert.notEqual(r.code, 0);
    assert.ok(Date.now() - started < 60_000, 'no hang');
    const view = JSON.parse((await farm.cli(['job', 'view', JSON.parse(r.stdout).id, '--json'])).stdout) as JobJson;
    assert.equal(view.status, 'error');
    assert.match(view.tasks[0]!.error ?? '', /container image "localhost\/drover-no-such-image:missing" is not available locally and could not be pulled/);
  });

  test('a stopped containerised task leaves no container behind', async () => {
    const ws = await makeWorkspace({ 'sleep.py': "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n", 'i.txt': 'x' });
    const job = JSON.parse((await farm.cli(['job', 'create', '-n', 'sleeper', '-s', join(ws, 'sleep.py'), '-i', join(ws, 'i.txt'), '--image', python, '-r', '--json'])).stdout) as JobJson;
    const [taskId] = await taskIds(job.id);
    await eventually(async () => (await containersWith(`drover.task=${taskId}`)).length === 1, 30_000, 'the container to run');
    await eventually(async () => (await taskLogText(taskId!)).includes('sleeping'), 30_000, 'the task to print');
    assert.equal((await farm.cli(['job', 'stop', job.id])).code, 0);
    await eventually(async () => (await containersWith(`drover.task=${taskId}`)).length === 0, 30_000, 'the container to be removed');
    // The agent is free again.
    const quick = await makeWorkspace({ 'q.py': "print('quick')\n", 'x.txt': 'x' });
    const r = await farm.cli(['job', 'create', '-n', 'after-stop', '-s', join(quick, 'q.py'), '-i', join(quick, 'x.txt'), '--image', python, '-r', '-w']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('an agent that stops removes its containers; one restarted after a crash removes what was left', async () => {
    const ws = await makeWorkspace({ 'sleep.py': "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n", 'i.txt': 'x' });
    const runSleeper = async () => {
      const job = JSON.parse((await farm.cli(['job', 'create', '-n', 'sleeper', '-s', join(ws, 'sleep.py'), '-i', join(ws, 'i.txt'), '--image', python, '-r', '--json'])).stdout) as JobJson;
      const [taskId] = await taskIds(job.id);
      await eventually(async () => (await containersWith(`drover.task=${taskId}`)).length === 1, 30_000, 'the container to run');
      // Wait for its only line: a podman client that later writes to the pipe of a dead agent fails
      // its attach and, being `run --rm`, removes the container itself (no leftover to test then).
      await eventually(async () => (await taskLogText(taskId!)).includes('sleeping'), 30_000, 'the task to print');
      return { job, taskId: taskId! };
    };

    // A clean stop (Ctrl-C): the running task goes back to the queue, its container away.
    const first = await runSleeper();
    const agent = farm.agents[0]!;
    await agent.kill('SIGINT');
    assert.deepEqual(await containersWith(`drover.task=${first.taskId}`), []);
    assert.equal((await farm.cli(['job', 'stop', first.job.id])).code, 0);

    // A crash: the container outlives the agent, until the agent starts again in its work dir.
    const second = await startAgent(farm.server, { name: 'again', workDir: agent.workDir, slots: 2, extraArgs: ['--engine', 'podman'] });
    farm.agents[0] = second;
    const crashed = await runSleeper();
    await second.kill('SIGKILL');
    assert.equal((await containersWith(`drover.task=${crashed.taskId}`)).length, 1, 'left behind by the crash');
    // Stopped first, so the task is not leased again and the label names only the leftover.
    assert.equal((await farm.cli(['job', 'stop', crashed.job.id])).code, 0);
    const third = await startAgent(farm.server, { name: 'again', workDir: agent.workDir, slots: 2, extraArgs: ['--engine', 'podman'] });
    farm.agents[0] = third;
    // With --engine the agent clears its leftovers before it joins.
    assert.deepEqual(await containersWith(`drover.task=${crashed.taskId}`), []);
  });

  async function tokenOf(user: string): Promise<string> {
    return (JSON.parse(await readFile(join(farm.dataDir, `cli-${user}.json`), 'utf8')) as { token: string }).token;
  }

  async function taskIds(jobId: string): Promise<string[]> {
    const { body } = await api<{ tasks: { id: string }[] }>(farm.url, await farm.adminToken(), 'GET', `/jobs/${jobId}/tasks`);
    return body.tasks.map((t) => t.id);
  }

  async function taskLogText(taskId: string): Promise<string> {
    const { body } = await api<{ entries: { data: string }[] }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${taskId}/logs`);
    return body.entries.map((e) => e.data).join('');
  }
});
