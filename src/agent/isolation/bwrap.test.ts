import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { bwrapAvailable, confineWithBwrap } from './bwrap.js';
import type { ProcessSpec } from './process-spec.js';
import { makeScene } from '../../../test/helpers/scenes.js';

// The layout the agent uses: its own work dir (with things a task must not see) holding task dirs.
let agentDir: string;
let taskDir: string;
let homeSecret: string | undefined;

before(async () => {
  assert.equal(await bwrapAvailable(), true, 'bwrap must work on the test machine');
  agentDir = mkdtempSync(join(tmpdir(), 'drover-bwrap-test-'));
  writeFileSync(join(agentDir, 'agent-credentials.json'), '{"token":"agent-secret"}');
  taskDir = join(agentDir, 'tasks', 't_1');
  mkdirSync(join(taskDir, 'run-result'), { recursive: true });
  writeFileSync(join(taskDir, 'job_1_1.txt'), 'the input\n');
  // A secret in the agent's home, which the agent can read and a task must not.
  const candidate = join(homedir(), `.drover-bwrap-test-secret-${randomBytes(4).toString('hex')}`);
  writeFileSync(candidate, 'home-secret');
  homeSecret = candidate;
});

after(() => {
  rmSync(agentDir, { recursive: true, force: true });
  if (homeSecret) rmSync(homeSecret, { force: true });
});

function taskSpec(argv: string[], env: Record<string, string> = {}): ProcessSpec {
  return {
    argv,
    cwd: taskDir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: homedir(),
      LANG: 'C.UTF-8',
      DROVER_TASK_ID: 't_1',
      DROVER_OUTPUT_DIR: 'run-result',
      ...env,
    },
  };
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(spec: ProcessSpec, timeoutMs = 20_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = spec.argv;
    const child = spawn(file!, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`confined command timed out: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('a confined task cannot read files outside its directory that the agent can read', async () => {
  const secrets = [join(agentDir, 'agent-credentials.json'), homeSecret!, join(process.cwd(), 'package.json')];
  for (const path of secrets) assert.ok(readFileSync(path, 'utf8').length > 0, `the agent itself can read ${path}`);

  const script = secrets.map((p) => `if cat '${p}' >/dev/null 2>&1; then echo "LEAK ${p}"; fi`).join('\n');
  const listing = `ls -a '${agentDir}' '${join(agentDir, 'tasks')}' '${homedir()}' 2>&1 || true`;
  const out = await run(confineWithBwrap(taskSpec(['bash', '-c', `${script}\n${listing}`]), { taskDir }));
  assert.equal(out.code, 0, out.stderr);
  assert.doesNotMatch(out.stdout, /LEAK/);
  // The agent's dir shows only the path down to this task: no credentials, no sibling tasks.
  assert.doesNotMatch(out.stdout, /agent-credentials/);
  assert.doesNotMatch(out.stdout, /drover-bwrap-test-secret/);
});

test('the system is read-only and /etc holds only what programs need', async () => {
  const out = await run(
    confineWithBwrap(
      taskSpec(['bash', '-c', 'touch /usr/drover-x 2>/dev/null && echo WROTE-USR; test -e /etc/shadow && echo SHADOW; test -e /etc/passwd && echo PASSWD; echo x > /tmp/t && echo TMP-OK; head -c 4096 /etc/mtab >/dev/null && echo MTAB-OK']),
      { taskDir },
    ),
  );
  assert.equal(out.code, 0, out.stderr);
  assert.doesNotMatch(out.stdout, /WROTE-USR|SHADOW/);
  assert.match(out.stdout, /PASSWD/);
  assert.match(out.stdout, /TMP-OK/);
  // the sandbox's own mount table, which Blender reads at start (else its log opens with a warning)
  assert.match(out.stdout, /MTAB-OK/);
});

test('Blender rendering in the sandbox does not open its log with "could not get a list of mounted file-systems"', async () => {
  const blend = await makeScene(join(taskDir, 'blender'), { frames: [1, 1], resolution: [16, 12], samples: 1 });
  const out = await run(confineWithBwrap(taskSpec(['blender', '-b', blend, '-noaudio', '-o', join(taskDir, 'blender', 'f_#'), '-f', '1']), { taskDir }), 120_000);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Saved: /);
  assert.doesNotMatch(out.stdout + out.stderr, /mounted file-systems/);
});

test('a confined task runs python3 and bash, sees its env and input, and writes its results', async () => {
  const py = [
    'import os, sys, json',
    'data = open(sys.argv[1]).read()',
    'out = os.path.join(os.environ["DROVER_OUTPUT_DIR"], "result.json")',
    'json.dump({"input": data, "task": os.environ["DROVER_TASK_ID"], "cwd": os.getcwd(), "home": os.environ["HOME"], "uid": os.getuid()}, open(out, "w"))',
  ].join('\n');
  writeFileSync(join(taskDir, 'script.py'), py);
  const out = await run(confineWithBwrap(taskSpec(['python3', 'script.py', 'job_1_1.txt']), { taskDir }));
  assert.equal(out.code, 0, out.stderr);
  const result = JSON.parse(readFileSync(join(taskDir, 'run-result', 'result.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(result.input, 'the input\n');
  assert.equal(result.task, 't_1');
  assert.equal(result.cwd, taskDir);
  // The agent's HOME is invisible inside, so the task gets the writable /tmp instead.
  assert.equal(result.home, '/tmp');
  if (process.getuid?.() === 0) assert.equal(result.uid, 65534, 'a root agent runs tasks as nobody');

  const bash = await run(confineWithBwrap(taskSpec(['bash', '-c', 'echo "$BASH_VERSION $DROVER_TASK_ID" > run-result/bash.txt']), { taskDir }));
  assert.equal(bash.code, 0, bash.stderr);
  assert.match(readFileSync(join(taskDir, 'run-result', 'bash.txt'), 'utf8'), /^\d+\.\d+.* t_1\n$/);
});

test('a task running as nobody cannot modify the input files the agent placed', async () => {
  if (process.getuid?.() !== 0) return;
  const out = await run(confineWithBwrap(taskSpec(['bash', '-c', 'echo tampered >> job_1_1.txt']), { taskDir }));
  assert.notEqual(out.code, 0);
  assert.equal(readFileSync(join(taskDir, 'job_1_1.txt'), 'utf8'), 'the input\n');
});

async function withLoopbackServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const server: Server = createServer((socket) => socket.end('hello\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn((server.address() as { port: number }).port);
  } finally {
    server.close();
  }
}

const connectScript = (port: number): string =>
  `import socket\ntry:\n  socket.create_connection(("127.0.0.1", ${port}), timeout=3).recv(10)\n  print("CONNECTED")\nexcept OSError as e:\n  print("REFUSED", e)`;

test('a confined task has no network unless asked for', async () => {
  await withLoopbackServer(async (port) => {
    const closed = await run(confineWithBwrap(taskSpec(['python3', '-c', connectScript(port)]), { taskDir }));
    assert.equal(closed.code, 0, closed.stderr);
    assert.match(closed.stdout, /REFUSED/);

    const open = await run(confineWithBwrap(taskSpec(['python3', '-c', connectScript(port)]), { taskDir, network: true }));
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stdout, /CONNECTED/);
  });
});

async function startThenKillGroup(waitForStart: boolean): Promise<string> {
  const token = `drover-kill-${randomBytes(4).toString('hex')}`;
  // The task ignores SIGTERM and has a background child: both must still go.
  const script = `trap '' TERM; (exec -a ${token} sleep 300) & exec -a ${token} sleep 301`;
  const spec = confineWithBwrap(taskSpec(['bash', '-c', script]), { taskDir });
  const [file, ...args] = spec.argv;
  const child = spawn(file!, args, { cwd: spec.cwd, env: spec.env, stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  if (waitForStart) await waitFor(() => processesMatching(token).length === 2, 5_000);
  // What the agent does to stop a task: SIGTERM to the group, then SIGKILL.
  process.kill(-child.pid!, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
  await exited;
  return token;
}

test('killing the process group ends every process in the sandbox', async () => {
  const token = await startThenKillGroup(true);
  await waitFor(() => processesMatching(token).length === 0, 5_000);
});

test('a kill right after the start leaves nothing behind either', async () => {
  const token = await startThenKillGroup(false);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.deepEqual(processesMatching(token), []);
});

function processesMatching(token: string): number[] {
  const found: number[] = [];
  for (const entry of readdirNumeric('/proc')) {
    try {
      // argv[0] only: bwrap's own command line also carries the token.
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] === token) found.push(entry);
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

function readdirNumeric(dir: string): number[] {
  return readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number);
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
