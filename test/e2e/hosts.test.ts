// Agents on many hosts: the coordinator and the agents run on separate "hosts" (network namespaces
// joined by a bridge, see test/helpers/netns.ts) and talk over real addresses. A job spreads over
// three agent hosts; one host is cut off mid-job (its link goes dark: packets are dropped, nothing
// is refused), its leases run out and its tasks finish elsewhere, each result stored exactly once.
// Plugged back in, its agents come back and work again, and what they send for the leases they lost
// is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ManagedProcess, type TestServer, api, eventually, startAgent, startServer } from '../helpers/farm.js';
import { type Cli, type JobJson, type ResultsJson, type TaskJson, adminCli, attemptsOf, fileText, loginToken, makeWorkspace, tasksOf, waitForJobStatus } from '../helpers/reliability.js';
import { NetLab, netnsUnavailable } from '../helpers/netns.js';

type Agent = ManagedProcess & { workDir: string; name: string };

const unavailable = netnsUnavailable();

// A task: its result is derived from its input (and says nothing of the attempt, so every correct
// result is known in advance); its stdout names the attempt, to tell which attempt was kept.
const WORK = `echo "attempt $DROVER_ATTEMPT"
sleep 1
n=$(cat "$1")
mkdir -p run-result
echo "input $n squared is $((n * n))" > run-result/result.txt
`;
const TASKS = 24;
const valueOf = (i: number) => 7 * i + 3;
const expectedResult = (input: string) => {
  const n = valueOf(Number(input.match(/^n_(\d+)\.txt$/)![1]));
  return `input ${n} squared is ${n * n}\n`;
};

/** Agents are named HOST-N: the host an attempt ran on is in its agent's name. */
const hostOf = (agent: string | null) => (agent ? agent.split('-')[0]! : null);

/** Milestones of the scenario, printed with DROVER_TEST_VERBOSE among the processes' output. */
const t0 = Date.now();
const note = (what: string) => {
  if (process.env.DROVER_TEST_VERBOSE) process.stderr.write(`[test +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
};

interface WorkerJson {
  name: string;
  status: string;
}

describe('agents on many hosts (network namespaces)', { skip: unavailable ?? false, timeout: 300_000 }, () => {
  let lab: NetLab | undefined;
  let server: TestServer | undefined;
  const agents: Agent[] = [];
  const dirs: string[] = [];
  let cli: Cli;
  let token: string;

  before(async () => {
    // coord runs the coordinator; agents run on a (two of them), b and c. The test itself stays in
    // the root namespace and reaches the coordinator through the bridge.
    lab = await NetLab.create(['coord', 'a', 'b', 'c']);
    const coord = lab.host('coord');
    const dataDir = await mkdtemp(join(tmpdir(), 'drover-hosts-'));
    dirs.push(dataDir);
    server = await startServer({
      dataDir,
      wrap: coord.wrap,
      port: 8686,
      args: ['--host', '0.0.0.0'],
      url: `http://${coord.address}:8686`,
      leaseSeconds: 4,
    });
    const s = server;
    const l = lab;
    const started = await Promise.allSettled(
      (['a-1', 'a-2', 'b-1', 'c-1'] as const).map((name) => startAgent(s, { name, wrap: l.host(hostOf(name)!).wrap })),
    );
    for (const r of started) if (r.status === 'fulfilled') agents.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    note('farm up');
    cli = await adminCli(s, dataDir);
    token = await loginToken(s.url, 'admin', s.adminPassword);
  });

  after(async () => {
    // Processes first (a namespace lives on while a process is in it), then the network.
    await Promise.all(
      agents.map(async (a) => {
        const killed = a.kill('SIGINT');
        const timer = setTimeout(() => a.proc.kill('SIGKILL'), 10_000);
        await killed;
        clearTimeout(timer);
      }),
    );
    await server?.kill('SIGTERM');
    await lab?.teardown();
    if (!process.env.DROVER_KEEP_TEST_DATA) for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const workers = async () => (await api<{ workers: WorkerJson[] }>(server!.url, token, 'GET', '/workers')).body.workers;
  const agentsOn = (host: string) => agents.filter((a) => hostOf(a.name) === host);

  async function createJob(ws: string): Promise<JobJson> {
    const r = await cli(['job', 'create', '-n', 'hosts', '-s', join(ws, 'work.sh'), '-i', join(ws, 'in/*.txt'), '-r', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobJson;
  }

  /** Every task done by exactly one attempt, its result listed once and correct, its stdout that attempt's. */
  async function checkResults(jobId: string, count: number) {
    const results = (await api<{ tasks: (ResultsJson['tasks'][number] & { input: string })[] }>(server!.url, token, 'GET', `/jobs/${jobId}/results`)).body;
    assert.equal(results.tasks.length, count);
    const doneOn = new Map<number, string>();
    const lostOn = new Map<number, string[]>();
    for (const task of results.tasks) {
      assert.equal(task.status, 'done', `task ${task.index}`);
      const paths = task.files.map((f) => f.path).sort();
      assert.deepEqual(paths, ['result.txt', 'stderr.txt', 'stdout.txt'], `task ${task.index} lists ${paths.join(', ')}`);
      const result = task.files.find((f) => f.path === 'result.txt')!;
      assert.equal(await fileText(server!.url, token, jobId, result.sha256), expectedResult(task.input), `task ${task.index} (${task.input})`);
      const attempts = await attemptsOf(server!.url, token, task.id);
      const done = attempts.filter((a) => a.status === 'done');
      assert.equal(done.length, 1, `task ${task.index}: ${JSON.stringify(attempts)}`);
      // Every other attempt was lost (to the cut-off host), none failed or was kept.
      assert.deepEqual(attempts.filter((a) => a.status !== 'done').map((a) => a.status).filter((s) => s !== 'lost'), [], `task ${task.index}: ${JSON.stringify(attempts)}`);
      const stdout = task.files.find((f) => f.path === 'stdout.txt')!;
      assert.equal(await fileText(server!.url, token, jobId, stdout.sha256), `attempt ${done[0]!.attempt}\n`, `task ${task.index}`);
      doneOn.set(task.index, hostOf(done[0]!.agent)!);
      lostOn.set(task.index, attempts.filter((a) => a.status === 'lost').map((a) => hostOf(a.agent)!));
    }
    return { results, doneOn, lostOn };
  }

  test('a job spreads over three hosts; a host cut off mid-job loses its leases, its tasks finish elsewhere, and it rejoins', async () => {
    const srv = server!;
    const inputs: Record<string, string> = {};
    for (let i = 1; i <= TASKS; i++) inputs[`in/n_${i}.txt`] = `${valueOf(i)}\n`;
    const ws = await makeWorkspace({ 'work.sh': WORK, ...inputs });
    dirs.push(ws);
    const job = await createJob(ws);

    // Wait until every host has finished a task and host a has just started one (a task runs for
    // over a second, so it cannot finish before the cut lands): then cut a off.
    const justStarted = (t: TaskJson) => t.startedAt !== null && Date.now() - Date.parse(t.startedAt) < 400;
    await eventually(async () => {
      const tasks = await tasksOf(srv.url, token, job.id);
      const doneHosts = new Set(tasks.filter((t) => t.status === 'done').map((t) => hostOf(t.agent)));
      const onA = tasks.filter((t) => t.status === 'running' && hostOf(t.agent) === 'a' && justStarted(t));
      return ['a', 'b', 'c'].every((h) => doneHosts.has(h)) && onA.length > 0 ? onA : null;
    }, 60_000, 'a task done on every host and one just started on host a');
    await lab!.cut('a');
    // The cut attempts: those still running on a once the cut is in place. (Another task of a may
    // have been near its end when it was read above, and its report got through.)
    await new Promise((r) => setTimeout(r, 500));
    const running = (await tasksOf(srv.url, token, job.id)).filter((t) => t.status === 'running' && hostOf(t.agent) === 'a');
    assert.ok(running.length > 0, 'a task of host a was running when it was cut off');
    note(`host a cut off while running ${running.map((t) => `${t.id} on ${t.agent}`).join(', ')}`);

    // The coordinator hears nothing from a: its leases expire, its tasks run on b and c.
    const finished = await waitForJobStatus(srv.url, token, job.id, 'done', 120_000);
    note('job done without host a');
    assert.equal(finished.counts.done, TASKS);
    const { doneOn, lostOn } = await checkResults(job.id, TASKS);
    for (const host of ['a', 'b', 'c']) assert.ok([...doneOn.values()].includes(host), `no task was done on host ${host}: ${JSON.stringify([...doneOn])}`);
    // The tasks running on a when it was cut off lost that attempt and were done on another host.
    for (const t of running) {
      const attempts = await attemptsOf(srv.url, token, t.id);
      const cutAttempt = attempts.find((a) => a.attempt === t.attempts)!;
      assert.equal(cutAttempt.agent, t.agent);
      assert.equal(cutAttempt.status, 'lost', JSON.stringify(attempts));
      assert.match(cutAttempt.error ?? '', /lease expired/);
      assert.notEqual(doneOn.get(t.index), 'a', `task ${t.index} was done on the cut-off host: ${JSON.stringify(attempts)}`);
    }
    // Only the cut-off host lost anything.
    assert.deepEqual([...new Set([...lostOn.values()].flat())], ['a']);
    // It is shown offline meanwhile.
    await eventually(async () => {
      const w = await workers();
      return agentsOn('a').every((a) => w.find((x) => x.name === a.name)?.status === 'offline');
    }, 30_000, 'the agents of host a to be shown offline');
    const tasksAtReconnect = await tasksOf(srv.url, token, job.id);

    // Plugged back in: its agents are heard again, and what they report for the attempts they lost
    // (they ran to the end while cut off) is refused: the job's results stay as they were.
    const outputAtReconnect = new Map(agentsOn('a').map((a) => [a.name, a.output().length]));
    await lab!.reconnect('a');
    note('host a reconnected');
    await eventually(async () => {
      const w = await workers();
      return agentsOn('a').every((a) => w.find((x) => x.name === a.name)?.status === 'online');
    }, 60_000, 'the agents of host a to be online again');
    note('host a online again');
    for (const t of running) {
      const agent = agents.find((a) => a.name === t.agent)!;
      // Still trying when plugged back in: it had not given up while cut off.
      assert.ok(!agent.output().slice(0, outputAtReconnect.get(agent.name)).includes(`task ${t.id} ended`), `task ${t.id} had ended on ${agent.name} before the reconnection`);
      await agent.waitForOutput(new RegExp(`task ${t.id} ended`), 60_000);
      note(`${agent.name} gave up ${t.id}`);
    }
    const recheck = await checkResults(job.id, TASKS);
    assert.deepEqual([...recheck.doneOn], [...doneOn]);
    assert.deepEqual(
      (await tasksOf(srv.url, token, job.id)).map((t: TaskJson) => [t.index, t.status, t.attempts, t.agent]),
      tasksAtReconnect.map((t) => [t.index, t.status, t.attempts, t.agent]),
    );

    // And sent now, a report for a lost attempt is refused outright.
    const identity = JSON.parse(await readFile(join(agentsOn('a')[0]!.workDir, 'agent.json'), 'utf8')) as { agentToken: string };
    const stale = await api<{ error: { code: string } }>(srv.url, identity.agentToken, 'POST', `/agent/tasks/${running[0]!.id}/complete`, {
      attempt: running[0]!.attempts,
      exitCode: 0,
      files: [],
      stdout: { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 },
      stderr: { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 },
    });
    assert.equal(stale.status, 409, JSON.stringify(stale.body));
    assert.equal(stale.body.error.code, 'lease_lost');

    // Host a works again: with the agents of b and c gone, a second job runs there alone.
    for (const a of [...agentsOn('b'), ...agentsOn('c')]) await a.kill('SIGINT');
    const ws2 = await makeWorkspace({ 'work.sh': WORK, 'in/n_1.txt': `${valueOf(1)}\n`, 'in/n_2.txt': `${valueOf(2)}\n`, 'in/n_3.txt': `${valueOf(3)}\n`, 'in/n_4.txt': `${valueOf(4)}\n` });
    dirs.push(ws2);
    const second = await createJob(ws2);
    await waitForJobStatus(srv.url, token, second.id, 'done', 60_000);
    note('second job done on host a');
    const again = await checkResults(second.id, 4);
    assert.deepEqual([...new Set(again.doneOn.values())], ['a']);
    assert.deepEqual([...again.lostOn.values()].flat(), []);
  });
});
