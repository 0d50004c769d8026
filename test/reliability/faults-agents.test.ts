// Agents that die, freeze, misbehave or are asked to leave: no task is lost, and each task's final
// results come from exactly one attempt.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, type TestServer, api, eventually, startAgent, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, adminCli, attemptsOf, fileText, jobOf, loginToken, makeWorkspace, tasksOf, waitForJobStatus, type ResultsJson } from '../helpers/reliability.js';

type Agent = ManagedProcess & { workDir: string; name: string };

/** A coordinator with its own agents, torn down by the suite. */
async function cluster(opts: { leaseSeconds?: number; env?: Record<string, string> } = {}) {
  const server = await startServer({ leaseSeconds: opts.leaseSeconds ?? 3, ...(opts.env ? { env: opts.env } : {}) });
  const agents: Agent[] = [];
  const cli = await adminCli(server, server.dataDir);
  const token = await loginToken(server.url, 'admin', server.adminPassword);
  return {
    server,
    cli,
    token,
    agents,
    async agent(name: string, extra: { workDir?: string } = {}) {
      const a = await startAgent(server, { name, ...extra });
      agents.push(a);
      return a;
    },
    async stop() {
      for (const a of agents) {
        try {
          process.kill(a.proc.pid!, 'SIGCONT');
        } catch {
          // gone
        }
      }
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      await server.kill('SIGTERM');
      await rm(server.dataDir, { recursive: true, force: true });
    },
  };
}

const clusters: { stop(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

async function createJob(cli: Cli, ws: string, script: string, inputs: string, extra: string[] = []): Promise<JobJson> {
  const r = await cli(['job', 'create', '-n', 'faults', '-s', join(ws, script), '-i', join(ws, inputs), '-r', '--json', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JobJson;
}

/** Every task done, with exactly one `done` attempt, and result paths listed once each. */
async function assertResultsFromOneAttempt(server: TestServer, token: string, jobId: string): Promise<ResultsJson> {
  const results = (await api<ResultsJson>(server.url, token, 'GET', `/jobs/${jobId}/results`)).body;
  for (const task of results.tasks) {
    assert.equal(task.status, 'done');
    const paths = task.files.map((f) => f.path);
    assert.equal(new Set(paths).size, paths.length, `task ${task.index} lists a result twice: ${paths.join(', ')}`);
    const attempts = await attemptsOf(server.url, token, task.id);
    assert.equal(attempts.filter((a) => a.status === 'done').length, 1, `task ${task.index}: ${JSON.stringify(attempts)}`);
    // The stored stdout.txt is the one of the attempt that was accepted.
    const stdout = task.files.find((f) => f.path === 'stdout.txt')!;
    const accepted = attempts.find((a) => a.status === 'done')!;
    assert.match(await fileText(server.url, token, jobId, stdout.sha256), new RegExp(`^attempt ${accepted.attempt}\\n`));
  }
  return results;
}

const WORK = `echo "attempt $DROVER_ATTEMPT"\nsleep \${SLEEP:-3}\nmkdir -p run-result\necho "result of attempt $DROVER_ATTEMPT for $(cat "$1")" > run-result/out.txt\n`;

describe('agent faults', { timeout: 400_000 }, () => {
  test('an agent killed with SIGKILL mid-task: the task is requeued, finishes elsewhere, results stored once', async () => {
    const c = await cluster();
    clusters.push(c);
    const victim = await c.agent('victim');
    const ws = await makeWorkspace({ 'work.sh': WORK, 'in/1.txt': 'one', 'in/2.txt': 'two', 'in/3.txt': 'three' });
    const job = await createJob(c.cli, ws, 'work.sh', 'in/*.txt');
    const running = await eventually(async () => (await tasksOf(c.server.url, c.token, job.id)).find((t) => t.status === 'running' && t.agent === 'victim'), 30_000, 'a task to run on the victim');
    await victim.kill('SIGKILL');
    await c.agent('rescuer');
    await waitForJobStatus(c.server.url, c.token, job.id, 'done');
    await assertResultsFromOneAttempt(c.server, c.token, job.id);
    const attempts = await attemptsOf(c.server.url, c.token, running.id);
    assert.deepEqual(
      attempts.map((a) => [a.agent, a.status]),
      [
        ['victim', 'lost'],
        ['rescuer', 'done'],
      ],
    );
    assert.match(attempts[0]!.error ?? '', /lease expired/);
  });

  test('an agent frozen past its lease (SIGSTOP/SIGCONT): what it sends for the lost lease is refused with 409', async () => {
    const c = await cluster();
    clusters.push(c);
    const frozen = await c.agent('frozen');
    const ws = await makeWorkspace({ 'work.sh': WORK, 'in.txt': 'payload' });
    const job = await createJob(c.cli, ws, 'work.sh', 'in.txt');
    const [task] = await eventually(async () => {
      const tasks = await tasksOf(c.server.url, c.token, job.id);
      return tasks[0]?.status === 'running' ? tasks : null;
    }, 30_000, 'the task to start');
    process.kill(frozen.proc.pid!, 'SIGSTOP');
    try {
      // Its task process runs on (and finishes) while the agent is frozen; the lease runs out.
      await c.agent('thawed-elsewhere');
      await waitForJobStatus(c.server.url, c.token, job.id, 'done');
    } finally {
      process.kill(frozen.proc.pid!, 'SIGCONT');
    }
    // The frozen agent wakes, finds its task ended and reports it: the coordinator refuses.
    await frozen.waitForOutput(new RegExp(`task ${task!.id} ended`), 30_000);
    const identity = JSON.parse(await readFile(join(frozen.workDir, 'agent.json'), 'utf8')) as { agentToken: string };
    const stale = await api<{ error: { code: string } }>(c.server.url, identity.agentToken, 'POST', `/agent/tasks/${task!.id}/complete`, {
      attempt: 1,
      exitCode: 0,
      files: [],
      stdout: { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 },
      stderr: { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'lease_lost');
    const logs = await api(c.server.url, identity.agentToken, 'POST', `/agent/tasks/${task!.id}/logs`, { attempt: 1, chunks: [{ stream: 'stdout', data: 'late' }] });
    assert.equal(logs.status, 409);
    const results = await assertResultsFromOneAttempt(c.server, c.token, job.id);
    const out = results.tasks[0]!.files.find((f) => f.path === 'out.txt')!;
    assert.equal(await fileText(c.server.url, c.token, job.id, out.sha256), 'result of attempt 2 for payload\n');
    const attempts = await attemptsOf(c.server.url, c.token, task!.id);
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.agent, a.status]),
      [
        [1, 'frozen', 'lost'],
        [2, 'thawed-elsewhere', 'done'],
      ],
    );
  });

  test('a bad agent is blocklisted for the job after N failures; a task failing on N agents errors', async () => {
    // N = 2 here (DROVER_AGENT_FAILURE_LIMIT), to show it is settable and keep the test short.
    const c = await cluster({ env: { DROVER_AGENT_FAILURE_LIMIT: '2' } });
    clusters.push(c);
    // The "broken environment": this agent's work directory sits on a path the script recognises
    // as a broken disk. Tasks see their own directory (their cwd), nothing else of the agent.
    const brokenDir = await mkdtemp(join(tmpdir(), 'drover-broken-disk-'));
    await c.agent('broken', { workDir: brokenDir });
    const ws = await makeWorkspace({
      'check.sh': 'case "$PWD" in *broken-disk*) echo "the disk is broken" >&2; exit 1;; esac\necho "attempt $DROVER_ATTEMPT"\nmkdir -p run-result\necho ok > run-result/ok.txt\n',
      'in/1.txt': '1',
      'in/2.txt': '2',
      'in/3.txt': '3',
    });
    const job = await createJob(c.cli, ws, 'check.sh', 'in/*.txt', ['--max-attempts', '5']);
    // The only agent is blocklisted: no online agent may run the job any more, so it ends in error
    // with that reason instead of waiting in silence.
    const ended = await waitForJobStatus(c.server.url, c.token, job.id, 'error');
    assert.deepEqual(ended.blockedAgents, ['broken']);
    const view = await c.cli(['job', 'view', job.id]);
    assert.match(view.stdout, /blocked agents .*: broken/);
    assert.match(view.stdout, /no online agent may run this job any more: the only online agent \(broken\) has failed 2 of its tasks/);
    const failedOnBroken = async () => {
      let n = 0;
      for (const t of await tasksOf(c.server.url, c.token, job.id)) n += (await attemptsOf(c.server.url, c.token, t.id)).filter((a) => a.agent === 'broken').length;
      return n;
    };
    // Blocklisted: exactly N failed attempts, then none.
    assert.equal(await failedOnBroken(), 2);
    // A healthy agent joins and a person retries: every agent is forgiven; the broken one fails at
    // most N more (each retried on the healthy one), and the healthy one finishes the job.
    await c.agent('healthy');
    assert.equal((await c.cli(['job', 'retry', job.id])).code, 0);
    await waitForJobStatus(c.server.url, c.token, job.id, 'done');
    assert.ok((await failedOnBroken()) <= 4);
    await assertResultsFromOneAttempt(c.server, c.token, job.id);

    // A task that fails everywhere errors once it failed on N different agents, long before its
    // 10 attempts are used up.
    const bad = await makeWorkspace({ 'fail.sh': 'echo "always failing" >&2\nexit 7\n', 'x.txt': 'x' });
    const failing = await createJob(c.cli, bad, 'fail.sh', 'x.txt', ['--max-attempts', '10']);
    await waitForJobStatus(c.server.url, c.token, failing.id, 'error');
    const [t] = await tasksOf(c.server.url, c.token, failing.id);
    assert.equal(t!.status, 'error');
    assert.match(t!.error ?? '', /failed on 2 different agents/);
    assert.ok(t!.attempts <= 3, `attempts: ${t!.attempts}`);
  });

  test('an agent drains on SIGTERM: it finishes its task, takes no new one, and exits 0', async () => {
    const c = await cluster();
    clusters.push(c);
    const drainer = await c.agent('drainer');
    const ws = await makeWorkspace({ 'work.sh': WORK, 'in/1.txt': 'one', 'in/2.txt': 'two' });
    const job = await createJob(c.cli, ws, 'work.sh', 'in/*.txt');
    await eventually(async () => (await tasksOf(c.server.url, c.token, job.id)).some((t) => t.status === 'running'), 30_000, 'a task to start');
    await drainer.kill('SIGTERM');
    assert.equal(drainer.proc.exitCode, 0, drainer.output());
    const tasks = await tasksOf(c.server.url, c.token, job.id);
    assert.deepEqual(
      tasks.map((t) => [t.index, t.status, t.attempts, t.agent]),
      [
        [1, 'done', 1, 'drainer'],
        [2, 'queued', 0, null],
      ],
    );
    await c.agent('successor');
    await waitForJobStatus(c.server.url, c.token, job.id, 'done');
    await assertResultsFromOneAttempt(c.server, c.token, job.id);
  });
});
