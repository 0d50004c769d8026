// Tasks that print gigabytes or hang: the log is capped and says so, memory stays flat, and the
// job's task timeout kills what hangs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type ManagedProcess, type TestServer, api, eventually, startAgent, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, type ResultsJson, adminCli, fileText, loginToken, makeWorkspace, memoryOf, tasksOf, waitForJobStatus } from '../helpers/reliability.js';
import { readFile, readdir, rm } from 'node:fs/promises';

const LOG_LIMIT = 1024 * 1024;
const OUTPUT_LIMIT = 8 * 1024 * 1024;
const PRINTED = 1_500_000_000;
const RSS_BOUND = 400 * 1024 * 1024;

describe('runaway tasks', { timeout: 170_000 }, () => {
  let server: TestServer;
  let agent: ManagedProcess;
  let cli: Cli;
  let token: string;
  before(async () => {
    const limits = { DROVER_LOG_LIMIT_BYTES: String(LOG_LIMIT), DROVER_OUTPUT_LIMIT_BYTES: String(OUTPUT_LIMIT) };
    server = await startServer({ env: limits });
    agent = await startAgent(server, { name: 'printer', env: limits });
    cli = await adminCli(server, server.dataDir);
    token = await loginToken(server.url, 'admin', server.adminPassword);
  });
  after(async () => {
    await agent?.kill('SIGINT');
    await server?.kill('SIGTERM');
    if (server) await rm(server.dataDir, { recursive: true, force: true });
  });

  test('a task printing 1.5 GB: its live log and stdout.txt are capped with a note, agent and coordinator memory stays flat', async () => {
    const ws = await makeWorkspace({ 'loud.sh': `yes "a line of output that goes on and on" | head -c ${PRINTED}\necho "finished printing" >&2\n`, 'x.txt': 'x' });
    const created = await cli(['job', 'create', '-n', 'loud', '-s', join(ws, 'loud.sh'), '-i', join(ws, 'x.txt'), '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    // Sample resident memory of both processes while the task prints.
    let peakAgent = 0;
    let peakServer = 0;
    await eventually(async () => {
      peakAgent = Math.max(peakAgent, await memoryOf(agent.proc.pid!));
      peakServer = Math.max(peakServer, await memoryOf(server.proc.pid!));
      return (await api<JobJson>(server.url, token, 'GET', `/jobs/${job.id}`)).body.status === 'done';
    }, 150_000, 'the loud job to finish');
    // VmHWM is the true peak, including moments between samples.
    peakAgent = Math.max(peakAgent, await memoryOf(agent.proc.pid!, 'VmHWM'));
    peakServer = Math.max(peakServer, await memoryOf(server.proc.pid!, 'VmHWM'));
    assert.ok(peakAgent < RSS_BOUND, `agent peak RSS ${peakAgent}`);
    assert.ok(peakServer < RSS_BOUND, `coordinator peak RSS ${peakServer}`);

    const [task] = await tasksOf(server.url, token, job.id);
    const { entries } = (await api<{ entries: { stream: string; data: string }[] }>(server.url, token, 'GET', `/tasks/${task!.id}/logs?limit=10000`)).body;
    const logBytes = entries.reduce((n, e) => n + Buffer.byteLength(e.data), 0);
    assert.ok(logBytes <= LOG_LIMIT + 4096, `live log holds ${logBytes} bytes`);
    assert.ok(entries.some((e) => e.stream === 'system' && /live log (stops here|is capped)/.test(e.data)), 'the log says it was capped');

    const results = (await api<ResultsJson>(server.url, token, 'GET', `/jobs/${job.id}/results`)).body;
    const stdout = results.tasks[0]!.files.find((f) => f.path === 'stdout.txt')!;
    assert.ok(stdout.size > OUTPUT_LIMIT && stdout.size < OUTPUT_LIMIT + 1024, `stdout.txt is ${stdout.size} bytes`);
    const text = await fileText(server.url, token, job.id, stdout.sha256);
    assert.match(text.slice(-200), /\[drover\] output cut at 8388608 bytes\n$/);
    const stderr = results.tasks[0]!.files.find((f) => f.path === 'stderr.txt')!;
    assert.equal(await fileText(server.url, token, job.id, stderr.sha256), 'finished printing\n');
  });

  test("a task that hangs is killed by the job's task timeout", async () => {
    // A sleep of an unusual length, found by its command line: under bubblewrap the task's own
    // idea of its pid is in another PID namespace.
    const marker = 600 + Math.floor(Math.random() * 300);
    const ws = await makeWorkspace({ 'hang.sh': `sleep ${marker}\n`, 'x.txt': 'x' });
    const created = await cli(['job', 'create', '-n', 'hangs', '-s', join(ws, 'hang.sh'), '-i', join(ws, 'x.txt'), '--timeout', '2', '--max-attempts', '1', '-r', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const job = JSON.parse(created.stdout) as JobJson;
    await waitForJobStatus(server.url, token, job.id, 'error', 60_000);
    const [task] = await tasksOf(server.url, token, job.id);
    assert.match(task!.error ?? '', /longer than its timeout of 2 s/);
    await eventually(async () => !(await sleepersOf(marker)), 20_000, 'the hung process to be gone');
  });
});

/** Whether a `sleep SECONDS` process is still running anywhere on the machine. */
async function sleepersOf(seconds: number): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `sleep\0${seconds}\0`) return true;
  }
  return false;
}
