import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ContainerEngine, ImageNotFoundError, type ContainerRunOptions } from './container-engine.js';
import type { ProcessSpec } from './process-spec.js';
import { runCommand } from '../../process/run-command.js';
import { ensureTestImage } from '../../../test/helpers/images.js';

const agentLabel = { 'drover.agent': `test-${randomBytes(4).toString('hex')}` };
let engine: ContainerEngine;
let busybox: string;
let workDir: string;

before(async () => {
  const found = await ContainerEngine.detect(undefined, { log: (line) => console.log(`# ${line}`) });
  assert.ok(found, 'a container engine (podman) must be usable on the test machine');
  engine = found;
  busybox = await ensureTestImage('busybox');
  workDir = mkdtempSync(join(tmpdir(), 'drover-container-test-'));
});

after(async () => {
  await engine?.removeAll(agentLabel);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function newTaskDir(input = 'the input\n'): string {
  const dir = join(workDir, `t_${randomBytes(3).toString('hex')}`);
  mkdirSync(join(dir, 'run-result'), { recursive: true });
  writeFileSync(join(dir, 'job_1_1.txt'), input);
  return dir;
}

function spec(taskDir: string, argv: string[]): ProcessSpec {
  return {
    argv,
    cwd: taskDir,
    env: { PATH: process.env.PATH ?? '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', DROVER_TASK_ID: 't_1', DROVER_OUTPUT_DIR: 'run-result' },
  };
}

function runOptions(taskDir: string, overrides: Partial<ContainerRunOptions> = {}): ContainerRunOptions {
  return {
    image: busybox,
    taskDir,
    cores: 1,
    memoryBytes: 256 * 1024 * 1024,
    network: false,
    name: `drover-test-${randomBytes(4).toString('hex')}`,
    labels: agentLabel,
    ...overrides,
  };
}

async function run(wrapped: ProcessSpec): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, ...args] = wrapped.argv;
  return runCommand(file!, args, { timeoutMs: 60_000, cwd: wrapped.cwd, env: wrapped.env });
}

async function containersOfThisTest(): Promise<string[]> {
  const [bin, ...global] = podmanCommand();
  const out = await runCommand(bin!, [...global, 'ps', '--all', '--quiet', '--filter', `label=drover.agent=${agentLabel['drover.agent']}`], { timeoutMs: 30_000 });
  return out.stdout.split('\n').filter((l) => l.trim() !== '');
}

function podmanCommand(): string[] {
  // The same global flags the engine uses, read back from a wrapped command.
  const argv = engine.wrap({ argv: ['true'], cwd: workDir, env: {} }, runOptions(workDir, { user: '0:0' })).argv;
  return argv.slice(0, argv.indexOf('run'));
}

test('a task in a container sees /local and its input, writes run-result/, and sees its env', async () => {
  const taskDir = newTaskDir();
  const script = 'cat job_1_1.txt > "$DROVER_OUTPUT_DIR/copy.txt"; pwd > run-result/pwd.txt; echo "$DROVER_TASK_ID $(id -u)" > run-result/who.txt';
  const out = await run(engine.wrap(spec(taskDir, ['sh', '-c', script]), runOptions(taskDir)));
  assert.equal(out.code, 0, out.stderr);
  assert.equal(readFileSync(join(taskDir, 'run-result', 'copy.txt'), 'utf8'), 'the input\n');
  assert.equal(readFileSync(join(taskDir, 'run-result', 'pwd.txt'), 'utf8'), '/local\n');
  const [taskId, uid] = readFileSync(join(taskDir, 'run-result', 'who.txt'), 'utf8').trim().split(' ');
  assert.equal(taskId, 't_1');
  assert.notEqual(uid, '0', 'the task does not run as root on the host');
});

test('a container task has no network unless asked for', async () => {
  const taskDir = newTaskDir();
  const closed = await run(engine.wrap(spec(taskDir, ['sh', '-c', 'ip -o link | cut -d: -f2']), runOptions(taskDir)));
  assert.equal(closed.code, 0, closed.stderr);
  assert.deepEqual(closed.stdout.split('\n').map((l) => l.trim()).filter(Boolean), ['lo']);

  const open = await run(engine.wrap(spec(taskDir, ['sh', '-c', 'ip -o link | cut -d: -f2']), runOptions(taskDir, { network: true })));
  assert.equal(open.code, 0, open.stderr);
  assert.ok(open.stdout.split('\n').some((l) => l.trim() !== '' && l.trim() !== 'lo'), `a network interface besides lo: ${open.stdout}`);
});

test('the memory limit is enforced where the engine supports limits', async (t) => {
  if (!engine.limitsSupported) return t.skip('cgroup limits unavailable here');
  const taskDir = newTaskDir();
  // dd allocates its block in one go: 128 MiB cannot fit in 32 MiB.
  const hog = spec(taskDir, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=128M', 'count=1']);
  const limited = await run(engine.wrap(hog, runOptions(taskDir, { memoryBytes: 32 * 1024 * 1024 })));
  assert.notEqual(limited.code, 0);
  const roomy = await run(engine.wrap(hog, runOptions(taskDir, { memoryBytes: 512 * 1024 * 1024 })));
  assert.equal(roomy.code, 0, roomy.stderr);
});

test('a python script runs in the python image', async () => {
  const image = await ensureTestImage('python');
  const taskDir = newTaskDir('3\n');
  writeFileSync(
    join(taskDir, 'script.py'),
    'import os, sys, json\nn = int(open(sys.argv[1]).read())\njson.dump({"squares": [i * i for i in range(n)], "task": os.environ["DROVER_TASK_ID"]}, open(os.path.join(os.environ["DROVER_OUTPUT_DIR"], "out.json"), "w"))\n',
  );
  const out = await run(engine.wrap(spec(taskDir, ['python3', 'script.py', 'job_1_1.txt']), runOptions(taskDir, { image })));
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(taskDir, 'run-result', 'out.json'), 'utf8')), { squares: [0, 1, 4], task: 't_1' });
});

test('a container killed mid-run and removed leaves nothing behind', async () => {
  const taskDir = newTaskDir();
  const options = runOptions(taskDir);
  const wrapped = engine.wrap(spec(taskDir, ['sleep', '300']), options);
  const [file, ...args] = wrapped.argv;
  const child = spawn(file!, args, { cwd: wrapped.cwd, env: wrapped.env, stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 30_000;
  while ((await containersOfThisTest()).length === 0) {
    assert.ok(Date.now() < deadline, 'the container never started');
    await new Promise((r) => setTimeout(r, 200));
  }
  // What the agent does: kill the engine client's process group; the container outlives it...
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  // ...until remove() takes it down.
  await engine.remove(options.name);
  assert.deepEqual(await containersOfThisTest(), []);
  await engine.remove(options.name); // removing what is gone is fine
});

test('removeAll removes every container with the agent label', async () => {
  const taskDir = newTaskDir();
  const children = [1, 2].map(() => {
    const wrapped = engine.wrap(spec(taskDir, ['sleep', '300']), runOptions(taskDir));
    const [file, ...args] = wrapped.argv;
    return spawn(file!, args, { cwd: wrapped.cwd, env: wrapped.env, stdio: 'ignore', detached: true });
  });
  const deadline = Date.now() + 30_000;
  while ((await containersOfThisTest()).length < 2) {
    assert.ok(Date.now() < deadline, 'the containers never started');
    await new Promise((r) => setTimeout(r, 200));
  }
  await engine.removeAll(agentLabel);
  assert.deepEqual(await containersOfThisTest(), []);
  for (const child of children) if (child.exitCode === null) await new Promise((resolve) => child.on('exit', resolve));
});

test('ensureImage: a present image is a no-op, an unknown one fails clearly and quickly', async () => {
  const lines: string[] = [];
  await engine.ensureImage(busybox, (line) => lines.push(line));
  assert.deepEqual(lines, [], 'a local image is not pulled');

  for (const ref of ['localhost/drover-no-such-image:1', 'drover-no-such-image-anywhere']) {
    const started = Date.now();
    await assert.rejects(engine.ensureImage(ref, () => {}), (err: unknown) => {
      assert.ok(err instanceof ImageNotFoundError, String(err));
      assert.match(err.message, new RegExp(ref.replace(/[.:/]/g, '\\$&')));
      return true;
    });
    assert.ok(Date.now() - started < 60_000, 'fails within a minute');
  }
});
