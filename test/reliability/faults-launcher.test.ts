// `drover up` killed with SIGKILL, restarted on the same data directory, and agents fighting over
// one identity: agents die with their launcher, a restart stops leftovers, one agent per work
// directory, one live agent per name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, BIN, REPO, eventually, runCli } from '../helpers/farm.js';
import { alive, makeWorkspace } from '../helpers/reliability.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Starts `drover ARGS` as a process of its own, collecting what it prints. */
function start(args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, DROVER_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d));
  proc.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return {
    proc,
    exited,
    output: () => output,
    waitFor: (pattern: RegExp, ms = 60_000) => eventually(async () => output.match(pattern), ms, `${pattern} in:\n${output}`),
  };
}

async function lockPid(dataDir: string, i: number): Promise<number> {
  return eventually(async () => Number((await readFile(join(dataDir, 'agents', String(i), 'agent.lock'), 'utf8').catch(() => '')).trim()) || null, 30_000, `agent ${i}'s lock`);
}

test('kill -9 of drover up: its agents and their tasks stop too; a restart stops leftovers and keeps one agent per identity', { timeout: 300_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'drover-up-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const pidDir = await mkdtemp(join(tmpdir(), 'drover-task-pids-'));
  cleanups.push(() => rm(pidDir, { recursive: true, force: true }));

  const up = start(['up', '--port', '0', '--data', dataDir, '--agents', '2', '--no-sandbox']);
  const [, url] = (await up.waitFor(/listening on (http:\/\/\S+)/))!;
  await up.waitFor(/Started 2 local agent\(s\)/);
  const agentPids = [await lockPid(dataDir, 1), await lockPid(dataDir, 2)];
  const env = { DROVER_CONFIG: join(dataDir, 'cli.json'), DROVER_SERVER: url! };
  assert.equal((await runCli(['login', '-u', 'admin', '-p', ADMIN_PASSWORD], { env })).code, 0);
  // Tasks that would run for minutes, each writing down its pid.
  const ws = await makeWorkspace({ 'long.sh': `echo $$ > ${pidDir}/task-$DROVER_TASK_INDEX\nsleep 300\n`, 'in/1.txt': '1', 'in/2.txt': '2' });
  const created = await runCli(['job', 'create', '-n', 'long', '-s', join(ws, 'long.sh'), '-i', join(ws, 'in/*.txt'), '-r'], { env });
  assert.equal(created.code, 0, created.stderr);
  const taskPids = await eventually(async () => {
    const pids = await Promise.all([1, 2].map(async (i) => Number((await readFile(join(pidDir, `task-${i}`), 'utf8').catch(() => '')).trim())));
    return pids.every((p) => p > 0) ? pids : null;
  }, 60_000, 'both tasks to run');

  up.proc.kill('SIGKILL');
  await up.exited;
  await eventually(async () => [...agentPids, ...taskPids].every((p) => !alive(p)), 30_000, 'the agents and their tasks to stop');

  // A leftover from a launcher that could not take its agents along (an older one): an agent that
  // still holds work directory 1.
  const leftover = start(['agent', '--server', 'http://127.0.0.1:9', '--token', 'drv_join_x', '--name', 'leftover', '--work-dir', join(dataDir, 'agents', '1'), '--no-sandbox']);
  await leftover.waitFor(/waiting for the coordinator/);
  // One agent per work directory: a second is refused in one line.
  const second = await runCli(['agent', '--server', 'http://127.0.0.1:9', '--token', 'drv_join_x', '--work-dir', join(dataDir, 'agents', '1'), '--no-sandbox']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`in use by another agent \\(pid ${leftover.proc.pid}\\)`));
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');

  const again = start(['up', '--port', '0', '--data', dataDir, '--agents', '2', '--no-sandbox']);
  await again.waitFor(new RegExp(`leftover agent \\(pid ${leftover.proc.pid}\\)[^\\n]*stopping it`));
  await leftover.exited;
  const [, url2] = (await again.waitFor(/listening on (http:\/\/\S+)/))!;
  const env2 = { ...env, DROVER_SERVER: url2! };
  // A second launcher on the same data is refused.
  const twice = await runCli(['up', '--port', '0', '--data', dataDir, '--agents', '1', '--no-sandbox']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /in use by another drover up/);
  // Only the two new agents, each once.
  const newPids = [await lockPid(dataDir, 1), await lockPid(dataDir, 2)];
  assert.ok(newPids.every((p) => alive(p) && !agentPids.includes(p) && p !== leftover.proc.pid));
  const workers = await eventually(async () => {
    const r = await runCli(['worker', 'list'], { env: env2 });
    return (r.stdout.match(/\bonline\b/g) ?? []).length === 2 ? r.stdout : null;
  }, 60_000, 'two agents online');
  assert.match(workers, new RegExp(`${hostname()}-1`));

  // A second live agent under a name already online is refused (after waiting briefly for it to go).
  const token = (await readFile(join(dataDir, 'agent-token'), 'utf8')).trim();
  const dup = await runCli(['agent', '--server', url2!, '--token', token, '--name', `${hostname()}-1`, '--work-dir', join(dataDir, 'elsewhere'), '--no-sandbox'], { env: { DROVER_AGENT_NAME_WAIT_SECONDS: '2' } });
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already online/);
  assert.doesNotMatch(dup.stderr, /\n\s+at /, 'no stack trace');

  again.proc.kill('SIGINT');
  assert.equal(await again.exited, 0);
  await eventually(async () => newPids.every((p) => !alive(p)), 30_000, 'the agents to stop with Ctrl-C');
});
