// Scheduling with real agents: no job waits in silence. A failed attempt is retried on another
// agent; a job every online agent is blocklisted for ends `error` with that reason (the always-
// failing script of issue 18 on 1, 2 and 3 agents); a queued job says why it waits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Farm, api, eventually, startFarm } from '../helpers/farm.js';
import { makeWorkspace } from '../helpers/reliability.js';

interface TaskJson {
  id: string;
  index: number;
  status: string;
  error: string | null;
}
interface JobJson {
  id: string;
  status: string;
  counts: Record<string, number>;
  waiting: string | null;
  unschedulable: string | null;
  blockedAgents: string[];
  tasks?: TaskJson[];
}
interface AttemptJson {
  attempt: number;
  agent: string | null;
  status: string;
}

const farms: Farm[] = [];
after(async () => {
  await Promise.all(farms.map((f) => f.stop()));
});

async function farmOf(agents: number): Promise<Farm> {
  const farm = await startFarm({ agents });
  farms.push(farm);
  return farm;
}

async function viewJson(farm: Farm, id: string): Promise<JobJson> {
  const r = await farm.cli(['job', 'view', id, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JobJson;
}

async function attemptsOf(farm: Farm, taskId: string): Promise<AttemptJson[]> {
  return (await api<{ attempts: AttemptJson[] }>(farm.url, await farm.adminToken(), 'GET', `/tasks/${taskId}`)).body.attempts;
}

const inputs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`in/job_${i + 1}.txt`, String(i + 1)]));

describe('no silent waits', { timeout: 600_000 }, () => {
  for (const agents of [1, 2, 3]) {
    test(`a script that always fails ends the job in error on ${agents} agent(s), and -w exits non-zero`, async () => {
      const farm = await farmOf(agents);
      const ws = await makeWorkspace({ 'fail.py': 'import nonexistent_module\n', ...inputs(10) });
      // The exact command of the issue: it used to leave the job running forever with tasks queued.
      const r = await farm.cli(['job', 'create', '-n', 'always-fails', '-s', join(ws, 'fail.py'), '-i', join(ws, 'in/*.txt'), '-r', '-w']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /ended error/);
      const id = /job (j[\w-]+)/.exec(r.stderr)![1]!;
      const job = await viewJson(farm, id);
      assert.equal(job.status, 'error');
      assert.equal(job.counts.queued, 0);
      assert.equal(job.counts.error, 10);
      // Every agent ended blocklisted, and the tasks that never got to run say why.
      assert.deepEqual([...job.blockedAgents].sort(), farm.agents.map((a) => a.name).sort());
      const unrun = job.tasks!.filter((t) => /no online agent may run this job any more/.test(t.error ?? ''));
      assert.ok(unrun.length > 0, JSON.stringify(job.tasks));
      assert.match(unrun[0]!.error!, agents === 1 ? /the only online agent \(agent-1\) has failed 3 of its tasks/ : /every online agent \(agent-1, agent-2.*\) has failed 3 of its tasks/);
    });
  }

  test('a failed attempt is retried on another agent when one is online', async () => {
    const farm = await farmOf(2);
    const ws = await makeWorkspace({ 'flaky.sh': '[ "$DROVER_ATTEMPT" = 1 ] && { echo "first attempt fails" >&2; exit 3; }\nmkdir -p run-result\necho ok > run-result/ok.txt\n', ...inputs(4) });
    const r = await farm.cli(['job', 'create', '-n', 'flaky', '-s', join(ws, 'flaky.sh'), '-i', join(ws, 'in/*.txt'), '-r', '-w', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const job = await viewJson(farm, (JSON.parse(r.stdout) as JobJson).id);
    for (const t of job.tasks!) {
      const attempts = await attemptsOf(farm, t.id);
      assert.deepEqual(attempts.map((a) => a.status), ['error', 'done'], `task ${t.index}`);
      assert.notEqual(attempts[1]!.agent, attempts[0]!.agent, `task ${t.index} was retried on the agent it failed on`);
    }
  });

  test('a queued job says why it waits, in job view and job list', async () => {
    const farm = await farmOf(1);
    const ws = await makeWorkspace({ 'sleep.sh': 'sleep 600\n', 'quick.sh': 'echo hi\n', 'x.txt': 'x' });
    const create = async (name: string, script: string, extra: string[] = []) => {
      const r = await farm.cli(['job', 'create', '-n', name, '-s', join(ws, script), '-i', join(ws, 'x.txt'), '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as JobJson).id;
    };
    const created = await create('not-started', 'quick.sh');
    assert.match((await viewJson(farm, created)).waiting ?? '', new RegExp(`^not started: \`drover job start ${created}\``));

    const long = await create('long', 'sleep.sh', ['-r']);
    await eventually(async () => (await viewJson(farm, long)).status === 'running', 30_000, 'the long job to start');
    const next = await create('next', 'quick.sh', ['-r']);
    const third = await create('third', 'quick.sh', ['-r']);
    assert.equal((await viewJson(farm, next)).waiting, 'the one agent that may run it (agent-1) is busy');
    assert.equal((await viewJson(farm, third)).waiting, '1 job ahead in the queue');
    const huge = await create('huge', 'quick.sh', ['-r', '-t', 'xl']);
    assert.match((await viewJson(farm, huge)).waiting ?? '', /asks for 16 cores but the largest connected agent offers 1/);

    const list = await farm.cli(['job', 'list', '--json']);
    const listed = new Map((JSON.parse(list.stdout) as JobJson[]).map((j) => [j.id, j.waiting]));
    assert.equal(listed.get(third), '1 job ahead in the queue');
    assert.equal(listed.get(long), null);
    const table = await farm.cli(['job', 'list']);
    assert.match(table.stdout, /WAITING/);
    assert.match(table.stdout, /1 job ahead in the queue/);
    const view = await farm.cli(['job', 'view', next]);
    assert.match(view.stdout, /waiting: the one agent that may run it \(agent-1\) is busy/);

    // Without an agent: the wait says so.
    await farm.agents[0]!.kill('SIGINT');
    await eventually(async () => /no agent is connected/.test((await viewJson(farm, next)).waiting ?? ''), 30_000, 'the agent to be seen gone');
    for (const id of [long, next, third, huge]) await farm.cli(['job', 'stop', id]);
  });
});
